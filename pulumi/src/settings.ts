// The stack's settings: deploy/settings.json's shape (or the file the
// stack's `settingsFile` names) and the stack's config (preset, alarms,
// JWT or a rehearsal's own issuer, database windows and storage, zips,
// provisioned concurrency), each refused here if a deploy would fail on it.

import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";

import { readShape, type Shape } from "./shape";

/** What a stack is for: its database's safety and its logs' retention. */
export type Preset = "production" | "dev";

export interface PresetValues {
    multiAz: boolean;
    deletionProtection: boolean;
    /** Keep a snapshot when the instance is deleted. */
    finalSnapshot: boolean;
    performanceInsights: boolean;
    backupRetentionDays: number;
    logRetentionDays: number;
    /** Days a deleted secret can be restored (0: deleted at once). */
    secretRecoveryDays: number;
}

export const PRESETS: Record<Preset, PresetValues> = {
    production: {
        multiAz: true,
        deletionProtection: true,
        finalSnapshot: true,
        performanceInsights: true,
        backupRetentionDays: 14,
        logRetentionDays: 90,
        secretRecoveryDays: 30,
    },
    dev: {
        multiAz: false,
        deletionProtection: false,
        finalSnapshot: false,
        performanceInsights: false,
        backupRetentionDays: 1,
        logRetentionDays: 7,
        secretRecoveryDays: 0,
    },
};

export interface Settings {
    /** What deploy/settings.json says the deployment is. */
    shape: Shape;
    preset: Preset;
    db: PresetValues;
    dbAllocatedStorage: number;
    /** Where alarms are emailed (a subscription to confirm); none: the topic only. */
    alarmEmail?: string;
    /** An HTTPS endpoint (a pager's or chat's webhook) the alarms are posted to. */
    alarmHttpsEndpoint?: string;
    /** The database instance's class: the shape's, or on a production stack its `production_instance_class`. */
    dbInstanceClass: string;
    /** Apply RDS changes at once (a class or storage change restarts the instance) rather than in the maintenance window. */
    dbApplyImmediately: boolean;
    /** UTC windows: maintenance (minor upgrades, deferred changes) and backups; away from business hours by default. */
    dbMaintenanceWindow: string;
    dbBackupWindow: string;
    /** How far RDS may grow the storage on its own, GB. */
    dbMaxAllocatedStorage: number;
    /** A JWT authorizer on every route but /health, when both are set (or a rehearsal's issuer, rehearsal.ts); `customerClaim` names the order's customer (the ingest function refuses another). */
    jwt?: { issuer: pulumi.Input<string>; audiences: pulumi.Input<string>[]; customerClaim: string };
    /** A stack for `sim rehearse`: its own token issuer (rehearsal.ts), and a database and secrets that `pulumi destroy` removes whole. */
    rehearsal: boolean;
    /** Where `scripts/build-lambdas.sh` put the zips. */
    lambdaDir: string;
    /** The zips' architecture: x86_64 (what scripts/build-lambdas.sh builds) or arm64. */
    architecture: "x86_64" | "arm64";
    /** Warm ingest environments kept on its live alias (0: none): for a sale's window. */
    saleProvisionedConcurrency: number;
}

/** What a rehearsal changes of its preset: `sim rehearse` ends with
 * `pulumi destroy`, which deletion protection would refuse, and leaves
 * nothing behind that bills (a final snapshot, secrets waiting 30 days);
 * the rest (Multi-AZ, the class, backups, logs) is the preset's. */
export const REHEARSAL: Partial<PresetValues> = { deletionProtection: false, finalSnapshot: false, secretRecoveryDays: 0 };

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** The database's maintenance and backup windows, UTC: the stack's, or at night. */
function windowsOf(c: pulumi.Config): { dbMaintenanceWindow: string; dbBackupWindow: string } {
    const dbMaintenanceWindow = c.get("dbMaintenanceWindow") ?? "sun:03:00-sun:04:00";
    const dbBackupWindow = c.get("dbBackupWindow") ?? "02:00-02:30";
    if (!/^(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d-(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d$/.test(dbMaintenanceWindow)) {
        throw new Error(`dbMaintenanceWindow must read like sun:03:00-sun:04:00 (UTC), not ${dbMaintenanceWindow}`);
    }
    if (!/^\d\d:\d\d-\d\d:\d\d$/.test(dbBackupWindow)) {
        throw new Error(`dbBackupWindow must read like 02:00-02:30 (UTC), not ${dbBackupWindow}`);
    }
    return { dbMaintenanceWindow, dbBackupWindow };
}

/** The architecture the stack deploys, if the zips in `lambdaDir` were
 * built for it: they say what they were built for (scripts/build-lambdas.sh
 * writes manifest.json), and an arm64 plan deployed with x86_64 zips would
 * fail every cold start with an exec format error. */
function zipsFor(architecture: string, lambdaDir: string): "x86_64" | "arm64" {
    if (architecture !== "x86_64" && architecture !== "arm64") throw new Error(`architecture must be x86_64 or arm64`);
    const manifest = path.join(lambdaDir, "manifest.json");
    if (!fs.existsSync(manifest)) return architecture;
    const built = JSON.parse(fs.readFileSync(manifest, "utf8")).architecture;
    if (built !== architecture) {
        throw new Error(
            `the zips in ${lambdaDir} were built for ${built}, and this stack deploys ${architecture}: ` +
                `rebuild them with ORDERFLOW_SETTINGS=<the settings file> ./scripts/build-lambdas.sh, or pulumi config set architecture ${built}`,
        );
    }
    return architecture;
}

/** Who may order: the JWT authorizer's issuer and audiences from the
 * config (both or neither), or a rehearsal's own issuer (made in deploy,
 * rehearsal.ts), never both; a production stack needs one of them unless
 * it takes anonymous orders on purpose. */
function identityOf(c: pulumi.Config, preset: Preset): Pick<Settings, "jwt" | "rehearsal"> {
    const issuer = c.get("jwtIssuer");
    const audience = c.get("jwtAudience");
    if ((issuer === undefined) !== (audience === undefined)) {
        throw new Error("set both jwtIssuer and jwtAudience for the JWT authorizer, or neither");
    }
    const rehearsal = c.getBoolean("rehearsal") ?? false;
    if (rehearsal && issuer !== undefined) {
        throw new Error(
            "rehearsal true makes the stack its own token issuer (a Cognito user pool), so it takes no jwtIssuer: " +
                "pulumi config rm jwtIssuer && pulumi config rm jwtAudience, or pulumi config set rehearsal false",
        );
    }
    // A production stack takes orders from the internet: anonymous only
    // when someone said so.
    if (preset === "production" && !rehearsal && !(issuer && audience) && !c.getBoolean("allowAnonymous")) {
        throw new Error(
            "a production stack needs a JWT issuer (pulumi config set jwtIssuer ..., jwtAudience ...), " +
                "or pulumi config set allowAnonymous true to take anonymous orders on purpose",
        );
    }
    const jwt =
        issuer && audience
            ? {
                  issuer,
                  audiences: audience.split(",").map((a) => a.trim()).filter((a) => a),
                  customerClaim: c.get("jwtCustomerClaim") ?? "sub",
              }
            : undefined;
    return { jwt, rehearsal };
}

/** Provisioned concurrency on ingest's live alias for a sale's window
 * (`saleProvisionedConcurrency`; about $0.0000041667 a GB-second while
 * set), taken from ingest's reserved concurrency, so it needs no more of
 * the account's. */
function provisionedOf(c: pulumi.Config, shape: Shape): number {
    const provisioned = c.getNumber("saleProvisionedConcurrency") ?? 0;
    const reserved = shape.functions.ingest.reserved_concurrency ?? null;
    if (!Number.isInteger(provisioned) || provisioned < 0 || (reserved !== null && provisioned > reserved)) {
        throw new Error(
            `saleProvisionedConcurrency must be a whole number from 0 to ingest's reserved concurrency (${reserved ?? "the account's"}), not ${provisioned}`,
        );
    }
    return provisioned;
}

/**
 * The shape from deploy/settings.json; the stack's config sets the rest:
 * `preset` (production or dev, required: a stack never gets a preset by
 * accident), `alarmEmail`, `jwtIssuer` with `jwtAudience`
 * (comma-separated) and `jwtCustomerClaim` (default `sub`), or `rehearsal` (default false: true
 * makes the stack its own token issuer, for `sim rehearse`), `dbAllocatedStorage`, `logRetentionDays`, `lambdaDir`,
 * `architecture` (default: the settings file's), `settingsFile` (default: deploy/settings.json),
 * `saleProvisionedConcurrency` (default 0).
 */
export function settings(given?: Shape): Settings {
    const c = new pulumi.Config();
    // `settingsFile`: another settings file (one `sim plan` wrote, say), relative to pulumi/.
    const settingsFile = c.get("settingsFile");
    const shape = given ?? (settingsFile === undefined ? readShape() : readShape(path.resolve(process.cwd(), settingsFile)));
    const stack = pulumi.getStack();
    const preset = c.get("preset") as Preset | undefined;
    if (preset === undefined) {
        throw new Error(`set the stack's preset: pulumi config set preset production (Multi-AZ, deletion protection, backups) or dev`);
    }
    if (!(preset in PRESETS)) throw new Error(`preset must be production or dev, not ${preset}`);
    // The final snapshot is named after the stack: RDS allows letters,
    // digits and single hyphens, starting with a letter.
    if (!/^[a-zA-Z](?:-?[a-zA-Z0-9])*$/.test(stack)) {
        throw new Error(`the stack name ${stack} cannot name an RDS snapshot: use letters, digits and single hyphens, starting with a letter`);
    }
    const db = { ...PRESETS[preset] };
    db.logRetentionDays = c.getNumber("logRetentionDays") ?? db.logRetentionDays;
    if (!LOG_RETENTION_DAYS.includes(db.logRetentionDays)) {
        throw new Error(`logRetentionDays must be one of CloudWatch's periods (${LOG_RETENTION_DAYS.join(", ")}), not ${db.logRetentionDays}`);
    }
    const dbAllocatedStorage = c.getNumber("dbAllocatedStorage") ?? 20;
    if (!Number.isInteger(dbAllocatedStorage) || dbAllocatedStorage < 20) {
        throw new Error(`dbAllocatedStorage must be a whole number of GB, at least 20 (RDS's minimum for MySQL), not ${dbAllocatedStorage}`);
    }
    const { jwt, rehearsal } = identityOf(c, preset);
    if (rehearsal) Object.assign(db, REHEARSAL);
    const httpsEndpoint = c.get("alarmHttpsEndpoint");
    if (httpsEndpoint !== undefined && !/^https:\/\/[^\s/]+/.test(httpsEndpoint)) {
        throw new Error(`alarmHttpsEndpoint must be an https:// URL, not ${httpsEndpoint}`);
    }
    const lambdaDir = c.get("lambdaDir") ?? "../target/lambda";
    const architecture = zipsFor(c.get("architecture") ?? shape.architecture ?? "x86_64", lambdaDir);
    const { dbMaintenanceWindow, dbBackupWindow } = windowsOf(c);
    const dbMaxAllocatedStorage = c.getNumber("dbMaxAllocatedStorage") ?? Math.max(100, 5 * dbAllocatedStorage);
    if (dbMaxAllocatedStorage < dbAllocatedStorage) {
        throw new Error(`dbMaxAllocatedStorage (${dbMaxAllocatedStorage}) must be at least dbAllocatedStorage (${dbAllocatedStorage})`);
    }
    return {
        shape,
        preset,
        db,
        dbAllocatedStorage,
        alarmEmail: c.get("alarmEmail"),
        alarmHttpsEndpoint: httpsEndpoint,
        jwt,
        rehearsal,
        lambdaDir,
        architecture,
        saleProvisionedConcurrency: provisionedOf(c, shape),
        dbInstanceClass: preset === "production" ? (shape.production_instance_class ?? shape.instance_class) : shape.instance_class,
        dbApplyImmediately: c.getBoolean("dbApplyImmediately") ?? false,
        dbMaintenanceWindow,
        dbBackupWindow,
        dbMaxAllocatedStorage,
    };
}
