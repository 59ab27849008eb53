import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveListPath } from '../index.ts';
import { jaro, jaroWinkler } from './jaro-winkler.ts';
import { detectFormat, ListFormatError, loadListFile, parseCsv, parseList } from './lists.ts';
import { compareNames, NameScreener } from './matcher.ts';
import { foldName } from './transliterate.ts';
import { forEachElement, XmlError } from './xml.ts';

const testdata = (f: string) => new URL(`../testdata/${f}`, import.meta.url).pathname;

describe('Jaro-Winkler', () => {
  it('gives the published reference values', () => {
    // Winkler (1990) / the usual textbook pairs.
    expect(jaro('martha', 'marhta')).toBeCloseTo(0.944, 3);
    expect(jaroWinkler('martha', 'marhta')).toBeCloseTo(0.961, 3);
    expect(jaroWinkler('dwayne', 'duane')).toBeCloseTo(0.84, 2);
    expect(jaroWinkler('dixon', 'dicksonx')).toBeCloseTo(0.813, 3);
    expect(jaroWinkler('abc', 'abc')).toBe(1);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
    expect(jaroWinkler('', '')).toBe(0);
  });
});

describe('transliteration', () => {
  it('folds Cyrillic, Greek, diacritics and punctuation to one Latin form', () => {
    expect(foldName('Владимир Путин')).toBe('vladimir putin');
    expect(foldName('Виктор Янукович')).toBe('viktor yanukovich');
    expect(foldName('Михаил Ходорковский')).toBe('mikhail khodorkovskiy');
    expect(foldName('Ελένη Παράδειγμα')).toBe('eleni paradeigma');
    expect(foldName('José Müller-Łukasz Øster Straße')).toBe('jose muller lukasz oster strasse');
    expect(foldName("O'Brien, Seán")).toBe('obrien sean');
    expect(foldName('ＡＣＭＥ ﬁnance')).toBe('acme finance');
  });
});

describe('name comparison', () => {
  it('matches across scripts, word order, diacritics and omitted middle names', () => {
    expect(compareNames('Владимир Путин', 'Vladimir Putin')).toMatchObject({ score: 1, method: 'exact' });
    expect(compareNames('Putin Vladimir', 'Vladimir Putin')).toMatchObject({ score: 1, method: 'reordered' });
    expect(compareNames('Vladimir Putin', 'Vladimir Vladimirovich Putin')).toMatchObject({
      score: 1,
      method: 'reordered',
    });
    expect(compareNames('José Pérez', 'JOSE PEREZ')).toMatchObject({ score: 1, method: 'exact' });
    expect(compareNames('Abdul Rahman', 'Abdulrahman').score).toBe(1);
    const typo = compareNames('Vladimir Poutine', 'Vladimir Putin');
    expect(typo.method).toBe('fuzzy');
    expect(typo.score).toBeGreaterThanOrEqual(0.9);
  });

  it('keeps different people below the threshold', () => {
    expect(compareNames('Maria Garcia', 'Vladimir Putin').score).toBeLessThan(0.7);
    expect(compareNames('Jan Jansen', 'Johannes Fictivus Mustermann').score).toBeLessThan(0.9);
    // A lone shared first name is not a match for a full name.
    expect(compareNames('Vladimir', 'Vladimir Putin').score).toBeLessThan(0.9);
    expect(compareNames('Vladimir Petrov', 'Vladimir Putin').score).toBeLessThan(0.9);
    // Company legal forms say nothing about identity; the distinctive words must agree.
    expect(
      compareNames('Acme Trading Ltd', 'Blocked Example Trading LLC', 'organisation').score,
    ).toBeLessThan(0.9);
    expect(
      compareNames('Blocked Example Trading Ltd', 'BLOCKED EXAMPLE TRADING, L.L.C.', 'organisation').score,
    ).toBe(1);
  });
});

describe('list loaders', () => {
  it('parse the shipped sample files, in every format', () => {
    const eu = loadListFile(resolveListPath('data/sanctions/eu-fsf-sample.xml'));
    const un = loadListFile(resolveListPath('data/sanctions/un-consolidated-sample.xml'));
    const ofac = loadListFile(resolveListPath('data/sanctions/ofac-sdn-sample.csv'));
    const pep = loadListFile(resolveListPath('data/pep/pep-sample.csv'), { list: 'pep' });
    expect(eu.map((e) => [e.reference, e.kind])).toEqual([
      ['EU.9001.01', 'person'],
      ['EU.9001.02', 'person'],
      ['EU.9001.03', 'organisation'],
    ]);
    expect(eu[0]!.names).toContain('Иван Тестович Санкционов');
    expect(eu[0]!.birthDates).toEqual(['1970-03-14']);
    expect(eu[1]!.birthDates).toEqual(['1962']);
    expect(un.map((e) => [e.reference, e.kind, e.names[0]])).toEqual([
      ['TSi.001', 'person', 'JOHANNES FICTIVUS MUSTERMANN'],
      ['TSe.001', 'organisation', 'FICTITIOUS SHIPPING AND FREIGHT COMPANY'],
    ]);
    // Surname-first individuals are turned around; aliases come from the alt file beside it.
    expect(ofac.find((e) => e.id === '99001')).toMatchObject({
      kind: 'person',
      names: ['Pyotr Fictionovich EXAMPLOV', 'Petr EKZAMPLOV'],
    });
    expect(ofac.find((e) => e.id === '99003')?.kind).toBe('other');
    expect(pep.map((e) => e.id)).toEqual(['pep-sample-0001', 'pep-sample-0002']);
    expect(pep[0]!.names).toContain('Вильгельмина Экзамплстейт');
    expect(pep[0]!.countries).toEqual(['NL']);
  });

  it('parse excerpts in the exact structure of the published EU, UN and OFAC files', () => {
    const eu = loadListFile(testdata('eu-fsf-excerpt.xml'));
    expect(eu).toHaveLength(3);
    expect(eu[0]).toMatchObject({
      id: '13',
      reference: 'EU.27.28',
      programme: 'IRQ',
      kind: 'person',
      names: ['Saddam Hussein Al-Tikriti', 'Abu Ali'],
      birthDates: ['1937-04-28'],
      countries: ['IQ'],
    });
    expect(eu[2]).toMatchObject({ kind: 'organisation', names: ['Al-Rashid Trust', 'Al Rasheed Trust'] });

    const un = loadListFile(testdata('un-consolidated-excerpt.xml'));
    expect(un.map((e) => e.reference)).toEqual(['KPi.033', 'QDi.999', 'KPe.001']);
    expect(un[0]).toMatchObject({ names: ['RI WON HO'], birthDates: ['1964-07-17'], programme: 'DPRK' });
    expect(un[1]!.names).toEqual([
      'ABDUL RAHMAN EXAMPLE',
      'عبد الرحمن',
      'Abdulrahman Exampel',
      'Abu Example',
    ]);
    expect(un[1]!.birthDates).toEqual(['1960', '1958']);
    expect(un[2]!.names).toEqual([
      'KOREA MINING DEVELOPMENT TRADING CORPORATION',
      'CHANGGWANG SINYONG CORPORATION',
      'KOMID',
    ]);

    const ofac = loadListFile(testdata('sdn.csv'));
    expect(ofac.map((e) => e.names)).toEqual([
      ['BANCO NACIONAL DE CUBA', 'BNC'],
      ['AEROCARIBBEAN AIRLINES', 'AERO-CARIBBEAN'],
      ['Vladimir Vladimirovich PUTIN'],
    ]);
  });

  it('screens a Cyrillic name against the Latin and Cyrillic aliases of a real-structure list', () => {
    const screener = new NameScreener(loadListFile(testdata('eu-fsf-excerpt.xml')));
    const [hit] = screener.screen('Владимир Путин', { kind: 'person', birthDate: '1952-10-07' });
    expect(hit).toMatchObject({ list: 'eu-fsf', reference: 'EU.7064.73', score: 1 });
    expect(hit!.explanation).toContain('a listed birth date agrees');
    // Same name, a birth date decades away: still reported, but no longer a certain match.
    const [far] = screener.screen('Vladimir Putin', { kind: 'person', birthDate: '1990-01-01' });
    expect(far!.score).toBeLessThan(0.97);
    expect(far!.explanation).toContain('more than a year away');
    // A similar name with a far birth date drops out.
    expect(screener.screen('Vladimir Poutine', { kind: 'person', birthDate: '1990-01-01' })).toEqual([]);
    expect(screener.screen('Tikriti Saddam Hussein', { kind: 'person' })[0]?.reference).toBe('EU.27.28');
    expect(screener.screen('Al Rashid Trust Ltd', { kind: 'organisation' })[0]?.reference).toBe('EU.3502.46');
    expect(screener.screen('Anna de Vries', { kind: 'person' })).toEqual([]);
    // People are not screened against companies.
    expect(screener.screen('Al Rashid Trust', { kind: 'person' })).toEqual([]);
  });

  it('refuses what is not a list, and XML with a DOCTYPE (no entity expansion)', () => {
    expect(() => detectFormat('<html><body/></html>')).toThrow(ListFormatError);
    expect(() => detectFormat('hello')).toThrow(ListFormatError);
    expect(() =>
      parseList('<?xml version="1.0"?><!DOCTYPE export [<!ENTITY a "aaaa">]><export>&a;</export>'),
    ).toThrow(XmlError);
    expect(() => parseList('<export><sanctionEntity></export>')).toThrow(XmlError);
    expect(() => parseList('0001,"X, Y"\n')).toThrow(ListFormatError);
  });

  it('reads CSV quoting and XML entities as the standards define them', () => {
    expect(parseCsv('a,"b ""c"", d"\r\n1,2\n')).toEqual([
      ['a', 'b "c", d'],
      ['1', '2'],
    ]);
    const seen: string[] = [];
    forEachElement('<r><n v="A &amp; B &#x41A;">x &lt; y<![CDATA[ & z]]></n></r>', new Set(['n']), (el) =>
      seen.push(`${el.attrs.v}|${el.text}`),
    );
    expect(seen).toEqual(['A & B К|x < y & z']);
    expect(readFileSync(testdata('sdn.csv'), 'utf8').endsWith('\x1a')).toBe(true);
  });
});
