#!/usr/bin/env node
// Compiles the AssemblyScript kernels (assembly/kernels.ts) to build/kernels.wasm with SIMD and -O3.
// build/ is a build output (gitignored). src/processing/wasm.ts loads the file at run time and falls
// back to the JS kernels when it is absent, so a failed or skipped build costs speed, not results.
//
//   node scripts/build-wasm.mjs [--text]   (--text also writes build/kernels.wat for inspection)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build', 'kernels.wasm');
mkdirSync(path.dirname(out), { recursive: true });

const args = [
  path.join(root, 'assembly', 'kernels.ts'),
  '--outFile', out,
  '--runtime', 'stub', // the host manages memory; the kernels never allocate
  '--enable', 'simd',
  '-O3',
  '--noAssert',
];
if (process.argv.includes('--text')) args.push('--textFile', out.replace(/\.wasm$/, '.wat'));

const { error, stderr } = await asc.main(args, {});
if (error) {
  process.stderr.write(stderr.toString());
  process.stderr.write(`build-wasm: ${error.message}\n`);
  process.exit(1);
}
console.log(`build-wasm: wrote ${path.relative(root, out)}`);
