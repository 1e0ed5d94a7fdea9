// The settings file's type and reading: the TypeScript type generated from
// the engine's JSON Schema is the committed one, and a file the engine
// refuses is refused before anything is built (src/shape.ts).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";

describe("the settings file", () => {
    it("keeps src/shape.generated.ts as `npm run gen` generates it from deploy/settings.schema.json", () => {
        // In memory: the generator compares, and names the command when the file is stale.
        try {
            execFileSync(process.execPath, [path.resolve(process.cwd(), "tools", "gen-shape.mjs"), "--check"], { encoding: "utf8", stdio: "pipe" });
        } catch (e) {
            const stderr = (e as { stderr?: string }).stderr ?? String(e);
            assert.fail(stderr.trim());
        }
    });

    it("refuses a settings file the engine's schema refuses", async () => {
        const { readShape, validShape } = await import("../src/shape");
        const shipped = readShape();
        const misspelt: any = { ...shipped, max_connection: shipped.max_connections };
        delete misspelt.max_connections;
        assert.throws(() => validShape(misspelt, "misspelt.json"), /misspelt.json is not a settings file.*max_connection/);
        const unknown: any = { ...shipped, functions: { ...shipped.functions, reader: shipped.functions.ingest } };
        assert.throws(() => validShape(unknown, "f.json"), /functions.*reader/);
        const typed: any = { ...shipped, stage_throttle: { rate: "fast", burst: 1 } };
        assert.throws(() => validShape(typed, "t.json"), /stage_throttle\/rate must be integer/);
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "shape-")), "settings.json");
        fs.writeFileSync(file, JSON.stringify(misspelt));
        assert.throws(() => readShape(file), /max_connection/);
    });
});
