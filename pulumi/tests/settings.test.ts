// The stack's settings on Pulumi's mocks: config a deploy would fail on is
// refused, and a settings file `sim plan` chose is deployed as it is
// (src/settings.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { mockStack, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the stack's settings", () => {
    it("refuses config a deploy would fail on: no preset, a log retention CloudWatch lacks, too little storage, zips of another architecture, more provisioned than reserved", async () => {
        const src = await program();
        const config = (values: Record<string, string>) =>
            pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`orderflow:${k}`, v])));
        try {
            config({});
            assert.throws(() => src.settings(), /set the stack's preset/);
            config({ preset: "staging" });
            assert.throws(() => src.settings(), /preset must be production or dev/);
            config({ preset: "dev", logRetentionDays: "10" });
            assert.throws(() => src.settings(), /logRetentionDays must be one of/);
            config({ preset: "dev", dbAllocatedStorage: "10" });
            assert.throws(() => src.settings(), /at least 20/);
            config({ preset: "dev", logRetentionDays: "14", dbAllocatedStorage: "50" });
            assert.equal(src.settings().db.logRetentionDays, 14);
            // Zips built for one architecture, deployed as another.
            const zips = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-manifest-"));
            fs.writeFileSync(path.join(zips, "manifest.json"), JSON.stringify({ architecture: "x86_64" }));
            config({ preset: "dev", lambdaDir: zips, architecture: "arm64" });
            assert.throws(() => src.settings(), /built for x86_64, and this stack deploys arm64/);
            config({ preset: "dev", lambdaDir: zips, architecture: "x86_64" });
            assert.equal(src.settings().architecture, "x86_64");
            // Provisioned concurrency comes out of ingest's reservation.
            config({ preset: "dev", saleProvisionedConcurrency: "801" });
            assert.throws(() => src.settings(), /from 0 to ingest's reserved concurrency \(800\)/);
            config({ preset: "dev", saleProvisionedConcurrency: "100" });
            assert.equal(src.settings().saleProvisionedConcurrency, 100);
        } finally {
            config({ preset: "dev" });
        }
    });

    it("deploys the settings file `sim plan` chose (settingsFile), whose connection budget it accepts", async () => {
        const src = await program();
        const config = (values: Record<string, string>) =>
            pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`orderflow:${k}`, v])));
        for (const file of ["../deploy/planned/flash-sale-central.json", "../deploy/planned/flash-sale-pessimistic.json"]) {
            try {
                config({ preset: "dev", settingsFile: file });
                const s = src.settings();
                const planned = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), file), "utf8"));
                assert.deepEqual(s.shape, planned, `${file} is the shape deployed`);
                assert.equal(s.architecture, planned.architecture ?? "x86_64", "the file's architecture, unless the stack says otherwise");
                src.checkShape(s.shape);
                const budget = src.connectionBudget(s.shape);
                assert.ok(budget.needed <= budget.available, `${file}: ${budget.needed} of ${budget.available}`);
            } finally {
                config({ preset: "dev" });
            }
        }
        config({ preset: "dev", settingsFile: "../deploy/planned/flash-sale-central.json", architecture: "x86_64" });
        try {
            assert.equal(src.settings().architecture, "x86_64", "the stack's config overrides the file");
        } finally {
            config({ preset: "dev" });
        }
    });
});
