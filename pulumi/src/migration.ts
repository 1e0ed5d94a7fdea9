// Migrations: a deploy step, run once per change of db/migrations by the
// migration function (as the schema's owner, the master user), before the
// functions that use the schema are updated. A failed migration fails the
// deploy and leaves the running functions alone. It also creates the
// application user and fills the two secrets on the first deploy, and
// checks the account's Lambda quota first. The demo inventory is seeded
// on a `dev` stack only.

import * as aws from "@pulumi/aws";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

import type { MakeFunction } from "./functions";
import { readSecrets } from "./iam";
import { checkAccountConcurrency, LAMBDA_CONCURRENCY_QUOTA, MIGRATION_FUNCTION } from "./rules";
import type { Network, Secrets, Stack } from "./stack";

/**
 * A digest of db/migrations: SHA-256 of one line per migration in version
 * order, `<version>:<SHA-384 of its file>` (hex), the same the migrate
 * binary computes from the migrations built into it
 * (engine/src/store/mysql/mod.rs `migrations_digest`). The step runs again
 * when it changes, and the binary refuses to run when its own differs (a
 * zip built from another commit).
 */
export function migrationsDigest(dir = path.resolve(process.cwd(), "..", "db", "migrations")): string {
    const migrations = fs
        .readdirSync(dir)
        .filter((f) => /^\d+_.*\.sql$/.test(f) && !f.endsWith(".down.sql"))
        .map((f) => ({ version: Number(f.split("_")[0]), sql: fs.readFileSync(path.join(dir, f)) }))
        .sort((a, b) => a.version - b.version);
    const lines = migrations.map((m) => `${m.version}:${crypto.createHash("sha384").update(m.sql).digest("hex")}\n`).join("");
    return crypto.createHash("sha256").update(lines).digest("hex");
}

/** The migration function and its one invocation a change, the step the functions wait for. */
export function migrationStep(st: Stack, net: Network, db: aws.rds.Instance, secrets: Secrets, fn: MakeFunction) {
    const { shape, name } = st;
    const { endpoints } = net;
    const [masterSecretArn, appSecret, idKeySecret] = [secrets.master, secrets.app, secrets.idKey];
    const migrate = fn(
        "migrate",
        MIGRATION_FUNCTION,
        [
            readSecrets(masterSecretArn),
            {
                Effect: "Allow",
                // Every Secrets Manager call of lambda/src/secrets.rs: reading,
                // writing, and a rotation's pending label cleared at its end.
                Action: [
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:UpdateSecretVersionStage",
                ],
                Resource: [appSecret.arn, idKeySecret.arn],
            },
        ],
        {
            env: {
                DB_SECRET_ARN: masterSecretArn,
                APP_DB_SECRET_ARN: appSecret.arn,
                // The application user may connect from the VPC only.
                APP_DB_USER_HOST: "10.20.%",
                ORDER_ID_KEY_SECRET_ARN: idKeySecret.arn,
                DB_MIGRATE_ON_START: "false",
                // On the dev preset only, whatever the stack is named.
                DEMO_INVENTORY: String(st.s.preset === "dev"),
            },
        },
    );
    const digest = migrationsDigest();
    const migrated = new aws.lambda.Invocation(`${name}-migrate`, {
        functionName: migrate.name,
        input: JSON.stringify({ migrations: digest }),
        // Again when the migrations, the migrate code, the database or a
        // secret it fills change (a replaced instance or secret is empty).
        triggers: {
            // The account's quota, checked before anything uses the schema:
            // a failed check fails this step, and the functions wait for it.
            accountConcurrency: aws.servicequotas
                .getServiceQuotaOutput({ serviceCode: "lambda", quotaCode: LAMBDA_CONCURRENCY_QUOTA })
                .value.apply((quota) => String(checkAccountConcurrency(quota, shape))),
            migrations: digest,
            code: migrate.sourceCodeHash,
            database: db.resourceId,
            masterSecret: masterSecretArn,
            appSecret: appSecret.arn,
            orderIdKeySecret: idKeySecret.arn,
        },
    }, { dependsOn: endpoints });
    return { migrate, migrated };
}
