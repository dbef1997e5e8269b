#!/usr/bin/env node
// Runs the Khronos glTF validator (npm gltf-validator) on .glb and .b3dm files (the glb inside a
// b3dm is validated). Prints one JSON line per file: {"file", "numErrors", "numWarnings",
// "numInfos", "extensionsUsed", "messages": [errors and warnings]}. Exit 0 when it ran.
// Usage: NODE_PATH=<folder with node_modules> node validate.js FILE...
"use strict";
const fs = require("fs");
const path = require("path");
const validator = require("gltf-validator");

function glbOf(buf, file) {
  const magic = buf.toString("latin1", 0, 4);
  if (magic === "glTF") return buf;
  if (magic === "b3dm") {
    const ftj = buf.readUInt32LE(12), ftb = buf.readUInt32LE(16), btj = buf.readUInt32LE(20), btb = buf.readUInt32LE(24);
    const start = 28 + ftj + ftb + btj + btb;
    if (start % 8 !== 0) throw new Error("glb inside b3dm does not start on an 8-byte boundary");
    return buf.subarray(start, buf.readUInt32LE(8));
  }
  throw new Error("not a glb or b3dm: " + file);
}

async function main() {
  for (const file of process.argv.slice(2)) {
    const glb = glbOf(fs.readFileSync(file), file);
    const report = await validator.validateBytes(new Uint8Array(glb.buffer, glb.byteOffset, glb.byteLength), {
      uri: path.basename(file), format: "glb", maxIssues: 0, writeTimestamp: false,
    });
    const is = report.issues || {};
    const messages = (is.messages || []).filter((m) => m.severity <= 1).slice(0, 50)
      .map((m) => ({ severity: m.severity, code: m.code, pointer: m.pointer, message: m.message }));
    process.stdout.write(JSON.stringify({
      file, numErrors: is.numErrors, numWarnings: is.numWarnings, numInfos: is.numInfos,
      extensionsUsed: (report.info || {}).extensionsUsed || [], messages,
    }) + "\n");
  }
}
main().catch((e) => { process.stderr.write("validate.js: " + (e && e.stack || e) + "\n"); process.exit(2); });
