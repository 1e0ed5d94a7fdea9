"""Checks a result (`sim ... --json`) against results.schema.json with the
jsonschema package (schemathesis, in the project's virtualenv, brings it):
  python scripts/check-result.py results.schema.json reports/ci-lambda.json
Exits 1, naming the first violation, if the document does not follow it."""

import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
result = json.load(open(sys.argv[2]))
try:
    jsonschema.validate(result, schema, cls=jsonschema.Draft202012Validator)
except jsonschema.ValidationError as e:
    print(f"{sys.argv[2]} does not follow {sys.argv[1]}: {e.message} at {list(e.absolute_path)}")
    sys.exit(1)
print(f"{sys.argv[2]} follows {sys.argv[1]} ({result['schema']}, {len(result['metrics'])} metrics)")
