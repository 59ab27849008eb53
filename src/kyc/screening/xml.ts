/**
 * A small, strict, non-validating XML reader for the published sanctions lists: elements,
 * attributes, text, CDATA, comments, processing instructions; the five predefined entities and
 * character references. It refuses a DOCTYPE outright — the lists have none, and refusing it
 * rules out entity expansion attacks (XXE, "billion laughs"). Namespace prefixes are dropped
 * (elements are matched by local name), as the lists use a single default namespace.
 *
 * It streams: only the subtrees of the elements asked for are built, so a 30 MB list costs the
 * memory of one entry at a time plus the text.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** Concatenated text directly inside this element (trimmed). */
  text: string;
}

export class XmlError extends Error {
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'XmlError';
  }
}

const NAME_RE = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ATTR_RE = /\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;

const local = (name: string) => {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(colon + 1);
};

export function decodeEntities(text: string, offset = 0): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);|&/g,
    (whole, ref: string | undefined) => {
      if (!ref) throw new XmlError('bare "&"', offset);
      if (ref === 'amp') return '&';
      if (ref === 'lt') return '<';
      if (ref === 'gt') return '>';
      if (ref === 'quot') return '"';
      if (ref === 'apos') return "'";
      const code = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
        throw new XmlError(`invalid character reference ${whole}`, offset);
      }
      return String.fromCodePoint(code);
    },
  );
}

/**
 * Calls `onElement` with each complete element whose local name is in `wanted` (and not inside
 * another wanted one), with its subtree. Returns the root element's local name.
 */
export function forEachElement(
  xml: string,
  wanted: ReadonlySet<string>,
  onElement: (element: XmlElement) => void,
): string {
  let pos = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  const open: string[] = [];
  let root = '';
  /** The subtree being built, innermost last; empty while outside a wanted element. */
  const building: XmlElement[] = [];

  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > pos) {
      const text = xml.slice(pos, textEnd);
      if (building.length) appendText(building[building.length - 1]!, decodeEntities(text, pos));
      else if (!open.length && text.trim()) throw new XmlError('text outside the root element', pos);
    }
    if (lt < 0) break;
    pos = lt;
    if (xml.startsWith('<!--', pos)) {
      const end = xml.indexOf('-->', pos + 4);
      if (end < 0) throw new XmlError('unterminated comment', pos);
      pos = end + 3;
    } else if (xml.startsWith('<![CDATA[', pos)) {
      const end = xml.indexOf(']]>', pos + 9);
      if (end < 0) throw new XmlError('unterminated CDATA section', pos);
      if (building.length) appendText(building[building.length - 1]!, xml.slice(pos + 9, end));
      pos = end + 3;
    } else if (xml.startsWith('<?', pos)) {
      const end = xml.indexOf('?>', pos + 2);
      if (end < 0) throw new XmlError('unterminated processing instruction', pos);
      pos = end + 2;
    } else if (xml.startsWith('<!', pos)) {
      throw new XmlError('DOCTYPE and markup declarations are not accepted', pos);
    } else if (xml.startsWith('</', pos)) {
      NAME_RE.lastIndex = pos + 2;
      const m = NAME_RE.exec(xml);
      if (!m) throw new XmlError('malformed end tag', pos);
      const name = m[0];
      const end = xml.indexOf('>', NAME_RE.lastIndex);
      if (end < 0 || xml.slice(NAME_RE.lastIndex, end).trim()) throw new XmlError('malformed end tag', pos);
      if (open.pop() !== name) throw new XmlError(`mismatched end tag </${name}>`, pos);
      closeElement(building, wanted, local(name), onElement);
      pos = end + 1;
    } else {
      NAME_RE.lastIndex = pos + 1;
      const m = NAME_RE.exec(xml);
      if (!m) throw new XmlError('malformed start tag', pos);
      const name = m[0];
      let at = NAME_RE.lastIndex;
      const attrs: Record<string, string> = Object.create(null);
      for (;;) {
        ATTR_RE.lastIndex = at;
        const a = ATTR_RE.exec(xml);
        if (!a) break;
        const attrName = local(a[1]!);
        if (a[1]!.startsWith('xmlns')) {
          at = ATTR_RE.lastIndex;
          continue;
        }
        attrs[attrName] = decodeEntities(a[2] ?? a[3] ?? '', at);
        at = ATTR_RE.lastIndex;
      }
      while (at < xml.length && /\s/.test(xml[at]!)) at++;
      const selfClosing = xml.startsWith('/>', at);
      if (!selfClosing && xml[at] !== '>') throw new XmlError(`malformed start tag <${name}>`, pos);
      if (!open.length) {
        if (root) throw new XmlError('more than one root element', pos);
        root = local(name);
      }
      const localName = local(name);
      if (building.length || wanted.has(localName)) {
        const element: XmlElement = { name: localName, attrs, children: [], text: '' };
        building[building.length - 1]?.children.push(element);
        building.push(element);
        if (selfClosing) closeElement(building, wanted, localName, onElement);
      }
      if (!selfClosing) open.push(name);
      pos = at + (selfClosing ? 2 : 1);
    }
  }
  if (open.length) throw new XmlError(`unclosed element <${open[open.length - 1]}>`, xml.length);
  if (!root) throw new XmlError('no root element', 0);
  return root;
}

function appendText(element: XmlElement, text: string) {
  element.text = element.text ? `${element.text}${text}` : text;
}

function closeElement(
  building: XmlElement[],
  wanted: ReadonlySet<string>,
  name: string,
  onElement: (element: XmlElement) => void,
) {
  if (!building.length) return;
  const element = building.pop()!;
  element.text = element.text.trim();
  if (!building.length && wanted.has(name)) onElement(element);
}

/** Children by local name. */
export const childrenNamed = (el: XmlElement, name: string) => el.children.filter((c) => c.name === name);
/** Text of the first child by local name ('' when absent). */
export const childText = (el: XmlElement, name: string) =>
  el.children.find((c) => c.name === name)?.text ?? '';
