#!/usr/bin/env node
// Validate GLB / glTF files with the Khronos glTF-Validator (npm `gltf-validator`).
//
//   node tests/support/validate_gltf.mjs FILE...
//
// Prints ONE JSON array to stdout, one report per file, in argument order:
//   {path, numErrors, numWarnings, numInfos, numHints,
//    messages: [{code, severity, message, pointer, offset}]}
// `severity` is the validator's own number: 0 Error, 1 Warning, 2 Information, 3 Hint.
// `pointer` is a JSON pointer into the glTF JSON (null for issues located by a byte `offset`
// in the GLB container; `offset` is null otherwise).
//
// Issues are data, not failures: the exit code is 0 whatever the files contain (the caller
// decides what is acceptable). A file the validator refuses to parse at all is reported as one
// error with code "VALIDATOR_REJECTED". The exit code is nonzero only when this script itself
// fails (no arguments, an unreadable file, the validator package missing).
//
// Our GLBs are self-contained: any external URI is refused (reported by the validator as an
// error), so a GLB that points at files outside itself never passes.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage(message) {
  process.stderr.write(`error: ${message}\nusage: node tests/support/validate_gltf.mjs FILE...\n`);
  process.exit(2);
}

async function main(argv) {
  const files = argv.slice(2);
  if (files.length === 0) usage('no files given');

  let validator;
  try {
    validator = require('gltf-validator');
  } catch (err) {
    process.stderr.write(
      `error: cannot load the npm package gltf-validator (${err.message}); ` +
        'run `npm ci` at the repository root (`make test` does)\n');
    process.exit(3);
  }

  const rejectExternal = (uri) =>
    Promise.reject(new Error(`external resource refused (GLBs must be self-contained): ${uri}`));

  const reports = [];
  for (const path of files) {
    const bytes = new Uint8Array(readFileSync(path)); // throws -> script failure, exit 1
    let report;
    try {
      report = await validator.validateBytes(bytes, {
        uri: path,
        maxIssues: 0, // unlimited
        writeTimestamp: false,
        externalResourceFunction: rejectExternal,
      });
    } catch (err) {
      // The validator rejects input it cannot even classify as glTF or GLB.
      reports.push({
        path,
        numErrors: 1,
        numWarnings: 0,
        numInfos: 0,
        numHints: 0,
        messages: [{
          code: 'VALIDATOR_REJECTED',
          severity: 0,
          message: String(err && err.message ? err.message : err),
          pointer: null,
          offset: null,
        }],
      });
      continue;
    }
    const issues = report.issues || {};
    reports.push({
      path,
      numErrors: issues.numErrors ?? 0,
      numWarnings: issues.numWarnings ?? 0,
      numInfos: issues.numInfos ?? 0,
      numHints: issues.numHints ?? 0,
      messages: (issues.messages || []).map((m) => ({
        code: m.code,
        severity: m.severity,
        message: m.message,
        pointer: m.pointer ?? null,
        offset: m.offset ?? null,
      })),
    });
  }
  process.stdout.write(JSON.stringify(reports) + '\n');
}

main(process.argv).catch((err) => {
  process.stderr.write(`error: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
