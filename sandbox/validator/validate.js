#!/usr/bin/env node
// Validates response bodies against the response schemas of the one GET
// operation of an OpenAPI document (GET /handling-units in openapi.json,
// the default; GET /handling-units/search in openapi-in-mass.json), using
// Ajv (JSON Schema) with ajv-formats. Ajv understands the OpenAPI 3.0
// "nullable" keyword.
//
//   node validate.js [--spec FILE] CASES.json
//       CASES.json is an array of {"name", "status", "body"} (body is the raw
//       response text). Prints a JSON array of
//       {"name", "status", "schema", "valid", "errors"}; exits 0.
//   node validate.js [--spec FILE] --status N [BODY_FILE]
//       Validates one body (from BODY_FILE or stdin); exits 0 when valid,
//       1 when not (errors on stdout).
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const SPEC_ID = "openapi.json";

function usage(msg) {
  process.stderr.write((msg ? msg + "\n" : "") +
    "usage: validate.js [--spec FILE] CASES.json\n" +
    "       validate.js [--spec FILE] --status N [BODY_FILE]\n");
  process.exit(2);
}

let specFile = path.join(__dirname, "..", "openapi.json");
let status = null;
const rest = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--spec") specFile = argv[++i];
  else if (argv[i] === "--status") status = String(argv[++i]);
  else rest.push(argv[i]);
}
if (!specFile) usage("missing --spec value");

const doc = JSON.parse(fs.readFileSync(specFile, "utf8"));
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
// OpenAPI annotation keywords that are not JSON Schema keywords.
ajv.addKeyword("example");
ajv.addKeyword("components");
ajv.addSchema({ $id: SPEC_ID, components: doc.components });

const gets = Object.keys(doc.paths).filter((p) => doc.paths[p].get);
if (gets.length !== 1) usage(specFile + ": expected one GET operation, found " + gets.length);
const responses = doc.paths[gets[0]].get.responses;
const compiled = {};

// Schema name for a status: the declared response schema, or
// HttpBusinessError for statuses the document does not declare (the
// sandbox answers every error with that shape).
function schemaFor(st) {
  const r = responses[st];
  let ref = "#/components/schemas/HttpBusinessError";
  let declared = false;
  if (r && r.content && r.content["application/json"]) {
    ref = r.content["application/json"].schema.$ref;
    declared = true;
  }
  const name = ref.replace("#/components/schemas/", "");
  if (!compiled[ref]) compiled[ref] = ajv.getSchema(SPEC_ID + ref);
  if (!compiled[ref]) throw new Error("cannot resolve " + ref);
  return { name, declared, validate: compiled[ref] };
}

function check(st, text) {
  const s = schemaFor(String(st));
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { schema: s.name, declared: s.declared, valid: false,
      errors: ["body is not JSON: " + e.message] };
  }
  const ok = s.validate(data);
  return {
    schema: s.name, declared: s.declared, valid: !!ok,
    errors: ok ? [] : s.validate.errors.map((e) =>
      (e.instancePath || "/") + " " + e.message +
      (e.params && e.params.additionalProperty ?
        " (" + e.params.additionalProperty + ")" : "")),
  };
}

if (status !== null) {
  if (rest.length > 1) usage();
  const text = fs.readFileSync(rest.length ? rest[0] : 0, "utf8");
  const r = check(status, text);
  process.stdout.write(JSON.stringify(r) + "\n");
  process.exit(r.valid ? 0 : 1);
} else {
  if (rest.length !== 1) usage();
  const cases = JSON.parse(fs.readFileSync(rest[0], "utf8"));
  const out = cases.map((c) => Object.assign({ name: c.name, status: c.status },
    check(c.status, c.body)));
  process.stdout.write(JSON.stringify(out) + "\n");
}
