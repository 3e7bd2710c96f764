#!/usr/bin/env node
// A native-CLI face for the npm `solc` package (the official wasm build of the compiler).
//
// py-solc-x (so Ape) and crytic-compile (so Slither) drive `solc` as a native binary and
// would download one from the internet; these machines reach only package registries.
// They need two modes, which this adapter provides over `require('solc').compile`:
//   solc --version
//   solc --standard-json [--base-path DIR] [--include-path DIR]... [--allow-paths A,B]
// Imports are read from disk by the callback below, resolved against the base path and
// the include paths, and refused outside the allowed folders, as the native CLI does.
// The project root (this file's parent folder) is always a last include path: Ape compiles
// in a temporary copy of contracts/ only, and OpenZeppelin is remapped to node_modules/.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

function parseArgs(argv) {
  const opts = { basePath: null, includePaths: [], allowPaths: [], mode: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, null];
    const value = () => (inline !== null ? inline : argv[++i]);
    switch (flag) {
      case '--version': opts.mode = 'version'; break;
      case '--standard-json': opts.mode = 'standard-json'; break;
      case '--base-path': opts.basePath = value(); break;
      case '--include-path': opts.includePaths.push(value()); break;
      case '--allow-paths': opts.allowPaths.push(...value().split(',').filter(Boolean)); break;
      default:
        throw new Error(`unsupported argument ${arg}: this adapter serves --version and --standard-json only`);
    }
  }
  return opts;
}

function isInside(file, folder) {
  const rel = path.relative(folder, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function makeImportReader(opts, sourceFolders) {
  const projectRoot = path.resolve(__dirname, '..');
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths, projectRoot].map((p) => path.resolve(p));
  const allowed = [...roots, ...opts.allowPaths.map((p) => path.resolve(p)), ...sourceFolders];
  return function readImport(unitName) {
    const candidates = path.isAbsolute(unitName) ? [unitName] : roots.map((r) => path.join(r, unitName));
    for (const file of candidates) {
      if (!fs.existsSync(file)) continue;
      const real = fs.realpathSync(file);
      if (!allowed.some((folder) => isInside(real, folder) || isInside(file, folder))) {
        return { error: `${unitName} is outside the allowed paths (${allowed.join(', ')})` };
      }
      return { contents: fs.readFileSync(file, 'utf8') };
    }
    return { error: `File not found: ${unitName} (looked in ${roots.join(', ')})` };
  };
}

function sourceFolders(input, basePath) {
  // Files named directly in the input are readable, as with the native CLI.
  const folders = [];
  for (const [name, source] of Object.entries(input.sources || {})) {
    for (const url of source.urls || [name]) {
      folders.push(path.dirname(path.resolve(basePath || process.cwd(), url)));
    }
  }
  return folders;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (opts.mode === 'version') {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (opts.mode !== 'standard-json') {
    process.stderr.write('usage: solc --version | solc --standard-json [--base-path D] [--include-path D] [--allow-paths A,B] < input.json\n');
    process.exit(2);
  }
  const raw = fs.readFileSync(0, 'utf8');
  let input;
  try {
    input = JSON.parse(raw);
  } catch (err) {
    process.stdout.write(JSON.stringify({ errors: [{ type: 'JSONError', component: 'general', severity: 'error', message: `input is not JSON: ${err.message}`, formattedMessage: `input is not JSON: ${err.message}` }] }));
    return;
  }
  const reader = makeImportReader(opts, sourceFolders(input, opts.basePath));
  process.stdout.write(solc.compile(raw, { import: reader }));
}

main();
