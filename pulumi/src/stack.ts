// What every part of the stack shares: its settings, names, tags and alarm
// maker, and the parts' results the next parts take (network, queues,
// secrets), so each module builds its part from these and nothing global.

import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

import type { Settings } from "./settings";
import type { Shape } from "./shape";

/** What every part of the stack shares: its settings, its names, its tags and its alarms. */
export interface Stack {
    s: Settings;
    shape: Shape;
    /** The prefix of every resource's Pulumi name. */
    name: string;
    /**
     * Names AWS sees (function, log group, snapshot) carry the stack, so two
     * stacks in one account and region do not collide; the rest are named by
     * Pulumi with a suffix of its own.
     */
    physical: string;
    tags: Record<string, string>;
    alarm: Alarm;
}

export type AlarmArgs = Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions" | "tags">;
/** An alarm with the stack's actions, OK actions and tags. */
export type Alarm = (id: string, args: AlarmArgs) => aws.cloudwatch.MetricAlarm;

/** The private network the functions and the database live in. */
export interface Network {
    vpc: aws.ec2.Vpc;
    subnetIds: pulumi.Output<string>[];
    functionsSg: aws.ec2.SecurityGroup;
    dbSg: aws.ec2.SecurityGroup;
    endpoints: aws.ec2.VpcEndpoint[];
}

/** A queue and its DLQ. */
export interface Queue {
    main: aws.sqs.Queue;
    dlq: aws.sqs.Queue;
}

/** The secrets the functions read: the application user's, the order id key, the master user's (RDS's). */
export type Secrets = { app: aws.secretsmanager.Secret; idKey: aws.secretsmanager.Secret; master: pulumi.Output<string> };
/** A function's environment variables. */
export type Env = Record<string, pulumi.Input<string>>;
/** What a function adds to the common environment, waits for, and which zip it runs (its own by default). */
export type FunctionExtra = { env?: Env; dependsOn?: pulumi.Resource[]; zip?: string };
