// Pulumi's mocks for the tests: every resource the program registers is
// recorded with its inputs; no cloud, no CLI. One stack per test file (node
// --test runs each file in its own process).

import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

export const resources: Recorded[] = [];

/** Each resource's explicit `dependsOn`, as `type name`, by `type name` (mocks do not see options; a stack transformation does). */
export const dependsOn: Record<string, string[]> = {};

/** A directory of stand-in function zips, one per function, each with its
 * own bytes, as `scripts/build-lambdas.sh` lays the real ones out. */
export function fakeZips(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-zips-"));
    for (const name of ["ingest", "read", "processor", "notifier", "migrate"]) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, "bootstrap.zip"), `the ${name} function's zip`);
    }
    return dir;
}

/** Mocks for a stack named `stack` with the given `orderflow:` config (and
 * stand-in zips, unless the config names a `lambdaDir`). */
export function mockStack(stack: string, config: Record<string, string> = {}) {
    config = { lambdaDir: fakeZips(), ...config };
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`orderflow:${k}`, v])));
    pulumi.runtime.setMocks(
        {
            async newResource(args: pulumi.runtime.MockResourceArgs) {
                resources.push({ type: args.type, name: args.name, inputs: args.inputs });
                const state: Record<string, any> = { name: args.name, ...args.inputs, arn: `arn:aws:mock:::${args.name}` };
                if (args.type === "aws:sqs/queue:Queue") state.url = `https://sqs.mock/123456789012/${args.name}`;
                if (args.type === "aws:rds/instance:Instance") {
                    state.address = "db.mock";
                    state.port = 3306;
                    state.identifier = args.name;
                    state.masterUserSecrets = [{ secretArn: "arn:aws:secretsmanager:mock:secret:db" }];
                    state.resourceId = "db-MOCKRESOURCEID";
                }
                if (args.type === "aws:apigatewayv2/api:Api") {
                    state.apiEndpoint = "https://abc123.execute-api.mock";
                    state.executionArn = "arn:aws:execute-api:mock:abc123";
                }
                if (args.type === "aws:lambda/function:Function") {
                    state.invokeArn = `arn:aws:lambda:mock:${args.name}/invocations`;
                    // As the provider: `sourceCodeHash` only as the program
                    // set it; `codeSha256` from the uploaded zip.
                    const zip = await args.inputs.code?.path;
                    if (typeof zip === "string" && fs.existsSync(zip)) {
                        state.codeSha256 = crypto.createHash("sha256").update(fs.readFileSync(zip)).digest("base64");
                    }
                    state.version = "7";
                }
                if (args.type === "aws:lambda/alias:Alias") state.invokeArn = `arn:aws:lambda:mock:${args.name}/invocations`;
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                // Three zones; use1-az3 is avoided, and Secrets Manager's
                // endpoint is not offered in us-east-1d.
                if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones") {
                    return { names: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"], zoneIds: ["use1-az3", "use1-az6", "use1-az1", "use1-az2"] };
                }
                if (args.token === "aws:ec2/getVpcEndpointService:getVpcEndpointService") {
                    const zones = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"];
                    return { ...args.inputs, availabilityZones: args.inputs.service === "secretsmanager" ? zones.slice(0, 3) : zones };
                }
                if (args.token === "aws:index/getRegion:getRegion") return { name: "us-east-1", region: "us-east-1" };
                if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
                    return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/deployer", userId: "AIDAMOCK" };
                }
                if (args.token === "aws:servicequotas/getServiceQuota:getServiceQuota") return { ...args.inputs, value: 1000 };
                return args.inputs;
            },
        },
        "orderflow",
        stack,
        true,
    );
}

/** Resolves an Output in tests. */
export function value<T>(o: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

export const ofType = (t: string) => resources.filter((r) => r.type === t);

/**
 * The program's modules, as one object for the tests: imported once the
 * mocks are set (each test file calls mockStack first).
 */
export async function program() {
    return {
        ...(await import("../src/shape")),
        ...(await import("../src/rules")),
        ...(await import("../src/settings")),
        ...(await import("../src/network")),
        ...(await import("../src/iam")),
        ...(await import("../src/database")),
        ...(await import("../src/migration")),
        ...(await import("../src/alarms")),
        ...(await import("../src/api")),
        ...(await import("../src/deploy")),
    };
}

/** Deploys the program on the mocks and waits for every resource to register. */
export async function deployed(): Promise<Record<string, pulumi.Output<string>>> {
    const { deploy, settings } = await program();
    let out: Record<string, pulumi.Output<string>> = {};
    // In a root stack, so a stack transformation sees every resource's
    // options (the mocks do not).
    await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation((args) => {
            const deps = args.opts.dependsOn;
            const list = (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[];
            // A resource's type and logical name are internal to the SDK; tests only read them.
            const id = (r: pulumi.Resource) => {
                const internal = r as unknown as { __pulumiType: string; __name: string };
                return `${internal.__pulumiType} ${internal.__name}`;
            };
            dependsOn[`${args.type} ${args.name}`] = list.map(id);
            return undefined;
        });
        out = deploy(settings()) as unknown as Record<string, pulumi.Output<string>>;
        return out;
    });
    await value(out.api_endpoint);
    await new Promise((r) => setTimeout(r, 100));
    return out;
}

/** Every statement of every role's inline policy, by the policy's name. */
export function statements(): Record<string, any[]> {
    return Object.fromEntries(
        ofType("aws:iam/rolePolicy:RolePolicy").map((p) => [p.name, JSON.parse(p.inputs.policy).Statement as any[]]),
    );
}

export const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);
