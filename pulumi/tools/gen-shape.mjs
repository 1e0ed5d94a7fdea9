// Generates src/shape.generated.ts, the settings file's TypeScript type,
// from deploy/settings.schema.json (which schemars generates from the
// engine's Rust type): `npm run gen` writes it; `--check` prints nothing
// and fails when the committed file differs, for tests/shape.test.ts.
import { compile } from "json-schema-to-typescript";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCHEMA = path.resolve(here, "..", "..", "deploy", "settings.schema.json");
export const GENERATED = path.resolve(here, "..", "src", "shape.generated.ts");
export const COMMAND = "cd pulumi && npm run gen";

/** The file's text, as `npm run gen` writes it. */
export async function generated() {
    const schema = JSON.parse(fs.readFileSync(SCHEMA, "utf8"));
    return compile(schema, "DeploymentSettings", {
        bannerComment:
            "// Generated from deploy/settings.schema.json by json-schema-to-typescript:\n" +
            `// do not edit; after the schema changes, run \`${COMMAND}\`.`,
        additionalProperties: false,
        unreachableDefinitions: true,
        style: { printWidth: 120, tabWidth: 4 },
    });
}

const text = await generated();
if (process.argv.includes("--check")) {
    const committed = fs.existsSync(GENERATED) ? fs.readFileSync(GENERATED, "utf8") : "";
    if (committed !== text) {
        console.error(`src/shape.generated.ts is stale: run \`${COMMAND}\``);
        process.exit(1);
    }
} else {
    fs.writeFileSync(GENERATED, text);
}
