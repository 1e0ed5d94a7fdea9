// The database: RDS MySQL 8.4 in the private subnets, encrypted, TLS only,
// its limits explicit in its parameter group; and its alarms, on what a
// sale runs it out of.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import { connectionAlarmThreshold, lockWaitSecs } from "./rules";
import type { Network, Stack } from "./stack";

/** Whether an RDS class is burstable (T classes run on CPU credits). */
export function isBurstable(instanceClass: string): boolean {
    return /^db\.t\d/.test(instanceClass);
}

/** The memory of the RDS classes this program expects, in bytes (AWS's instance class table); other classes are refused. */
export function instanceMemoryBytes(instanceClass: string): number {
    const gib: Record<string, number> = {
        "db.t4g.micro": 1,
        "db.t4g.small": 2,
        "db.t4g.medium": 4,
        "db.t4g.large": 8,
        "db.m7g.large": 8,
        "db.m7g.xlarge": 16,
        "db.r7g.large": 16,
        "db.r7g.xlarge": 32,
    };
    const size = gib[instanceClass];
    if (size === undefined) throw new Error(`${instanceClass}: add its memory to instanceMemoryBytes (src/database.ts) for the memory alarm`);
    return size * 2 ** 30;
}

/**
 * Whether RDS offers Performance Insights for MySQL on this class: not on
 * the smallest burstable ones (AWS's "Supported DB engines, Regions and
 * instance classes for Performance Insights").
 */
export function supportsPerformanceInsights(instanceClass: string): boolean {
    return !/^db\.(t2|t3|t4g)\.(micro|small)$/.test(instanceClass);
}

/** MySQL 8.4: private, encrypted, TLS only, its limits explicit. */
export function database(st: Stack, net: Network) {
    const { s, shape, name, physical, tags } = st;
    const { subnetIds, dbSg } = net;
    const dbSubnets = new aws.rds.SubnetGroup(`${name}-db`, { subnetIds, tags });
    const parameters = new aws.rds.ParameterGroup(`${name}-mysql84`, {
        family: "mysql8.4",
        description: "orderflow: TLS required, the connection limit explicit, lock waits inside the function timeout, idle connections closed",
        parameters: [
            { name: "require_secure_transport", value: "1" },
            // The limit the connection budget was checked against, not the
            // default formula on DBInstanceClassMemory (which RDS evaluates
            // on the memory left after the OS: a 1 GiB class reports about
            // 66, not the 85 its nominal memory gives).
            { name: "max_connections", value: String(shape.max_connections) },
            // A batch waiting on a hot row gives up, and is retried, well
            // before its function's timeout would kill it mid-transaction.
            { name: "innodb_lock_wait_timeout", value: String(lockWaitSecs(shape)) },
            // A reaped execution environment's connections are closed in
            // minutes, not the default 8 hours.
            { name: "wait_timeout", value: String(shape.wait_timeout_secs) },
            // Queries over a second in the slow-query log (exported below).
            { name: "slow_query_log", value: "1" },
            { name: "long_query_time", value: "1" },
        ],
        tags,
    });
    const performanceInsights = s.db.performanceInsights && supportsPerformanceInsights(s.dbInstanceClass);
    if (s.db.performanceInsights && !performanceInsights) {
        pulumi.log.warn(`${s.dbInstanceClass} has no Performance Insights; a larger production_instance_class in deploy/settings.json gets it`);
    }
    const db = new aws.rds.Instance(`${name}-db`, {
        engine: "mysql",
        // MySQL 8.0 left RDS standard support in July 2026: a new 8.0
        // instance would be billed Extended Support. 8.4 is in standard
        // support, and Extended Support is refused outright: when 8.4 ages
        // out, RDS upgrades the major version itself (in the maintenance
        // window) instead of adding to the bill, so plan that upgrade.
        engineVersion: "8.4",
        engineLifecycleSupport: "open-source-rds-extended-support-disabled",
        instanceClass: s.dbInstanceClass,
        allocatedStorage: s.dbAllocatedStorage,
        maxAllocatedStorage: s.dbMaxAllocatedStorage,
        storageType: "gp3",
        // Changes wait for the maintenance window unless the stack says
        // otherwise (the book's "Operating the stack", "Before a sale": check pending modifications).
        applyImmediately: s.dbApplyImmediately,
        maintenanceWindow: s.dbMaintenanceWindow,
        backupWindow: s.dbBackupWindow,
        dbName: name,
        username: name,
        manageMasterUserPassword: true,
        parameterGroupName: parameters.name,
        publiclyAccessible: false,
        storageEncrypted: true,
        dbSubnetGroupName: dbSubnets.name,
        vpcSecurityGroupIds: [dbSg.id],
        multiAz: s.db.multiAz,
        backupRetentionPeriod: s.db.backupRetentionDays,
        deletionProtection: s.db.deletionProtection,
        skipFinalSnapshot: !s.db.finalSnapshot,
        finalSnapshotIdentifier: s.db.finalSnapshot ? `${physical}-final` : undefined,
        performanceInsightsEnabled: performanceInsights,
        performanceInsightsRetentionPeriod: performanceInsights ? 7 : undefined,
        autoMinorVersionUpgrade: true,
        copyTagsToSnapshot: true,
        // The error log and slow queries in CloudWatch Logs.
        enabledCloudwatchLogsExports: ["error", "slowquery"],
        tags,
    });
    const masterSecretArn = db.masterUserSecrets.apply((secrets) => secrets[0].secretArn);
    return { db, masterSecretArn };
}

/** What the database runs out of: connections, storage, CPU, credits, memory. */
export function databaseAlarms(st: Stack, db: aws.rds.Instance) {
    const { s, shape, alarm } = st;
    alarm("db-connections", {
        alarmDescription: `Database connections above 80% of max_connections ${shape.max_connections}: the shape's budget (deploy/settings.json) is being outgrown, or connections leak`,
        namespace: "AWS/RDS",
        metricName: "DatabaseConnections",
        dimensions: { DBInstanceIdentifier: db.identifier },
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 5,
        threshold: connectionAlarmThreshold(shape),
        comparisonOperator: "GreaterThanThreshold",
    });
    alarm("db-free-storage", {
        alarmDescription: "Free storage under 20%: raise dbAllocatedStorage before the database stops taking writes",
        namespace: "AWS/RDS",
        metricName: "FreeStorageSpace",
        dimensions: { DBInstanceIdentifier: db.identifier },
        statistic: "Minimum",
        period: 300,
        evaluationPeriods: 1,
        threshold: s.dbAllocatedStorage * 2 ** 30 * 0.2,
        comparisonOperator: "LessThanThreshold",
    });
    // What a sale runs out of on the instance. No data from it means it is
    // down: those alarms count silence as trouble.
    alarm("db-cpu", {
        alarmDescription: "Database CPU above 80% for 5 minutes: the hot row's lock rounds slow down; a larger class in deploy/settings.json",
        namespace: "AWS/RDS",
        metricName: "CPUUtilization",
        dimensions: { DBInstanceIdentifier: db.identifier },
        statistic: "Average",
        period: 60,
        evaluationPeriods: 5,
        threshold: 80,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "breaching",
    });
    alarm("db-freeable-memory", {
        alarmDescription: "Database freeable memory under 10% of the class's: connections or buffers are crowding it; check max_connections against the class",
        namespace: "AWS/RDS",
        metricName: "FreeableMemory",
        dimensions: { DBInstanceIdentifier: db.identifier },
        statistic: "Minimum",
        period: 60,
        evaluationPeriods: 5,
        threshold: instanceMemoryBytes(s.dbInstanceClass) * 0.1,
        comparisonOperator: "LessThanThreshold",
        treatMissingData: "breaching",
    });
    if (isBurstable(s.dbInstanceClass)) {
        // A burstable class runs out of CPU credits, and of its storage's
        // bursts: then it falls to its baseline, and every commit waits longer.
        const bursts = {
            "db-cpu-credits": ["CPUCreditBalance", "Database CPU credits under 20: a burstable class at its baseline slows the sale (or bills surplus credits); a non-burstable class for sales"],
            "db-ebs-io-balance": ["EBSIOBalance%", "The database's EBSIOBalance% under 20 %: a burstable instance's storage bursts are running out, and commits will slow to its baseline; a larger class for sales"],
            "db-ebs-byte-balance": ["EBSByteBalance%", "The database's EBSByteBalance% under 20 %: a burstable instance's storage bursts are running out, and commits will slow to its baseline; a larger class for sales"],
        };
        for (const [id, [metricName, alarmDescription]] of Object.entries(bursts)) {
            alarm(id, {
                alarmDescription,
                namespace: "AWS/RDS",
                metricName,
                dimensions: { DBInstanceIdentifier: db.identifier },
                statistic: "Minimum",
                period: 300,
                evaluationPeriods: 1,
                threshold: 20,
                comparisonOperator: "LessThanThreshold",
            });
        }
    }
}
