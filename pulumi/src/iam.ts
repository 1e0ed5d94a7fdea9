// The functions' rights: the statements each role is made of, the role and
// its one inline policy, and the VPC endpoints' policies. `*` only for the
// network-interface actions AWS requires, the changes among them held to
// the stack's VPC.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import type { Stack } from "./stack";

/** The actions a function in a VPC needs for its network interfaces: the one place a role has `*`, as AWS requires. */
export const NETWORK_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
];

/** Of those, the ones with no resource-level permissions: `*`, unconditioned. */
export const NETWORK_INTERFACE_DESCRIBES = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"];

/**
 * The function's network-interface policy: the describes on `*` (they
 * support nothing narrower); creating, deleting and re-addressing
 * interfaces on `*` too, but only inside the stack's VPC (condition key
 * `ec2:Vpc`, which network interfaces, subnets and security groups carry:
 * Service Authorization Reference, "Actions, resources, and condition keys
 * for Amazon EC2", read 2026-12-02).
 */
export function networkInterfaceStatements(vpcArn: string) {
    return [
        { Sid: "VpcNetworkInterfacesRead", Effect: "Allow", Action: NETWORK_INTERFACE_DESCRIBES, Resource: "*" },
        {
            Sid: "VpcNetworkInterfaces",
            Effect: "Allow",
            Action: NETWORK_INTERFACE_ACTIONS.filter((a) => !NETWORK_INTERFACE_DESCRIBES.includes(a)),
            Resource: "*",
            Condition: { ArnEquals: { "ec2:Vpc": vpcArn } },
        },
    ];
}

/** A VPC endpoint's policy: the service's calls, on the stack's account's
 * resources only (`aws:ResourceAccount`). */
export function endpointPolicy(service: string, account: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.output(account).apply((id) =>
        JSON.stringify({
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: "*",
                    Action: `${service}:*`,
                    Resource: "*",
                    Condition: { StringEquals: { "aws:ResourceAccount": id } },
                },
            ],
        }),
    );
}

/** Reading secrets. */
export const readSecrets = (...arns: pulumi.Input<string>[]) => ({ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arns });
/** Consuming a queue: receiving, deleting, extending, and its attributes. */
export const consume = (arn: pulumi.Output<string>) => ({
    Effect: "Allow",
    Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
    Resource: arn,
});
/** Publishing to a queue. */
export const publish = (arn: pulumi.Output<string>) => ({ Effect: "Allow", Action: ["sqs:SendMessage", "sqs:GetQueueAttributes"], Resource: arn });

/** A function's role: only Lambda may assume it, and its one inline policy holds its own log group's streams, the network interfaces and `statements`. */
export function functionRole(st: Stack, fname: string, logGroup: aws.cloudwatch.LogGroup, vpc: aws.ec2.Vpc, statements: object[]) {
    const { name, tags } = st;
    const role = new aws.iam.Role(`${name}-${fname}`, {
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags,
    });
    // Every statement inline, none managed: what the role may do is here.
    const policy = new aws.iam.RolePolicy(`${name}-${fname}`, {
        role: role.id,
        policy: pulumi.all([pulumi.output(statements), logGroup.arn, vpc.arn]).apply(([st, logArn, vpcArn]) =>
            JSON.stringify({
                Version: "2012-10-17",
                Statement: [
                    { Sid: "OwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${logArn}:*` },
                    // AWS requires `*` for these: the one exception,
                    // the changes held to the stack's VPC.
                    ...networkInterfaceStatements(vpcArn),
                    ...st,
                ],
            }),
        ),
    });
    return { role, policy };
}
