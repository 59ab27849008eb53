/**
 * Stable error codes. Every module declares its codes with `defineErrors` in its own `errors.ts`;
 * they all land in one registry so `docs/errors.md` can be checked against it (test) and no code is
 * ever declared twice. A code, once published, keeps its meaning forever.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

const registry = new Map<string, ErrorSpec>();

export function defineErrors<const T extends Record<string, ErrorSpec>>(specs: T): { [K in keyof T]: K } {
  const codes = {} as { [K in keyof T]: K };
  for (const [code, spec] of Object.entries(specs)) {
    if (!/^[A-Z][A-Z0-9_]+$/.test(code)) throw new Error(`error code ${code} must be UPPER_SNAKE_CASE`);
    if (registry.has(code)) throw new Error(`error code ${code} declared twice`);
    if (spec.status < 400 || spec.status > 599) throw new Error(`error code ${code} needs a 4xx/5xx status`);
    registry.set(code, Object.freeze({ ...spec }));
    (codes as Record<string, string>)[code] = code;
  }
  return Object.freeze(codes);
}

export function errorSpec(code: string): ErrorSpec | undefined {
  return registry.get(code);
}

export function allErrorCodes(): ReadonlyMap<string, ErrorSpec> {
  return registry;
}
