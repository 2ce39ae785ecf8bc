export * from './errors.ts'
export * from './runtime.ts'
export * from './runtime-check.ts'
export type * from './types.ts'
