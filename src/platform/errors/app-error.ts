import { errorSpec } from './registry.ts';

/**
 * An error the caller may see: a registered code, an optional human detail, and optional extra
 * members for the problem document. Everything else thrown is internal and becomes a generic 500.
 */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    readonly detail?: string,
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    const spec = errorSpec(code);
    if (!spec) throw new Error(`unregistered error code ${code}`);
    super(detail ?? spec.title);
    this.name = 'AppError';
    this.status = spec.status;
  }
}
