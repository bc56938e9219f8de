// The package's ESM build has no typings of its own; they are the same as the package root's.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
