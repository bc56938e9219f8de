/**
 * Every failure the engine reports on purpose is an AtelierGpuError with a `kind`, so callers
 * (CLI, batch jobs, the browser page) can tell "no adapter" from "tensor too large" without
 * parsing messages.
 */
export type GpuErrorKind =
  | 'no-webgpu'
  | 'no-adapter'
  | 'too-large'
  | 'validation'
  | 'out-of-memory'
  | 'device-lost'
  | 'shader'
  | 'usage';

export class AtelierGpuError extends Error {
  readonly kind: GpuErrorKind;
  constructor(kind: GpuErrorKind, message: string) {
    super(message);
    this.name = 'AtelierGpuError';
    this.kind = kind;
  }
}
