// The network: a VPC with two private subnets, no internet gateway, no
// NAT; the security groups (the functions to MySQL and the endpoints,
// nothing else); the SQS and Secrets Manager interface endpoints.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import { endpointPolicy } from "./iam";
import type { Network, Stack } from "./stack";

/** The interface endpoints the private subnets need: no NAT, so every AWS API the functions call. */
export const ENDPOINT_SERVICES = ["sqs", "secretsmanager"];

/**
 * Zone ids never picked: use1-az3, where VPC Lambda and several interface
 * endpoints have historically been unavailable and new instance types do not
 * come (the book's "Deployment risks", m6).
 */
export const AVOIDED_ZONE_IDS = ["use1-az3"];

/**
 * The two zones (by id, the same in every account) for the subnets: zones
 * every endpoint service is offered in (`servedBy`, names per service, from
 * `ec2:DescribeVpcEndpointServices`), less the avoided ones, in id order so
 * every account picks the same physical zones.
 */
export function pickZones(names: string[], zoneIds: string[], servedBy: string[][]): string[] {
    const usable = names
        .map((zone, i) => ({ zone, id: zoneIds[i] }))
        .filter(({ zone, id }) => servedBy.every((zones) => zones.includes(zone)) && !AVOIDED_ZONE_IDS.includes(id))
        .map(({ id }) => id)
        .sort();
    if (usable.length < 2) {
        throw new Error(`two zones offering ${ENDPOINT_SERVICES.join(" and ")} endpoints are needed; this region has ${usable.join(", ") || "none"}`);
    }
    return usable.slice(0, 2);
}

/** Two private subnets, no internet gateway, no NAT. */
export function network(st: Stack): Network {
    const { name, tags } = st;
    const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
        cidrBlock: "10.20.0.0/16",
        enableDnsHostnames: true,
        enableDnsSupport: true,
        tags,
    });
    // Zones by id (names are shuffled per account), where both endpoint
    // services are offered, never an opt-in (Local) zone.
    const zones = aws.getAvailabilityZonesOutput({
        state: "available",
        filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }],
    });
    const served = ENDPOINT_SERVICES.map(
        (service) => aws.ec2.getVpcEndpointServiceOutput({ service, serviceType: "Interface" }).availabilityZones,
    );
    const picked = pulumi
        .all([zones.names, zones.zoneIds, ...served])
        .apply(([names, ids, ...servedBy]) => pickZones(names, ids, servedBy));
    const subnets = [0, 1].map(
        (i) =>
            new aws.ec2.Subnet(`${name}-private-${i}`, {
                vpcId: vpc.id,
                cidrBlock: `10.20.${i}.0/24`,
                availabilityZoneId: picked.apply((p) => p[i]),
                mapPublicIpOnLaunch: false,
                tags: { ...tags, tier: "private" },
            }),
    );
    const subnetIds = subnets.map((n) => n.id);
    return { vpc, subnetIds, ...securityGroups(st, vpc, subnetIds) };
}

/** Who may talk to whom inside the VPC, and the endpoints that replace a NAT. */
function securityGroups(st: Stack, vpc: aws.ec2.Vpc, subnetIds: pulumi.Output<string>[]) {
    const { name, tags } = st;
    // The VPC's default security group: no rules, so nothing placed in it
    // by mistake can talk to anything.
    new aws.ec2.DefaultSecurityGroup(`${name}-default`, { vpcId: vpc.id, ingress: [], egress: [], tags });
    // The functions may reach the database (3306) and the endpoints (443),
    // nothing else (the rules below, after both groups exist).
    const functionsSg = new aws.ec2.SecurityGroup(`${name}-functions`, {
        vpcId: vpc.id,
        description: "orderflow Lambda functions",
        egress: [],
        tags,
    });
    const dbSg = new aws.ec2.SecurityGroup(`${name}-db`, {
        vpcId: vpc.id,
        description: "orderflow MySQL: only the functions",
        ingress: [{ protocol: "tcp", fromPort: 3306, toPort: 3306, securityGroups: [functionsSg.id], description: "MySQL from the functions" }],
        egress: [],
        tags,
    });
    const endpointsSg = new aws.ec2.SecurityGroup(`${name}-endpoints`, {
        vpcId: vpc.id,
        description: "orderflow VPC endpoints: HTTPS from the functions",
        ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: [functionsSg.id], description: "HTTPS from the functions" }],
        egress: [],
        tags,
    });
    for (const [id, port, to, what] of [
        ["db", 3306, dbSg, "MySQL to the database"],
        ["endpoints", 443, endpointsSg, "HTTPS to the SQS and Secrets Manager endpoints"],
    ] as const) {
        new aws.ec2.SecurityGroupRule(`${name}-functions-to-${id}`, {
            type: "egress",
            securityGroupId: functionsSg.id,
            protocol: "tcp",
            fromPort: port,
            toPort: port,
            sourceSecurityGroupId: to.id,
            description: what,
        });
    }
    const region = aws.getRegionOutput();
    const account = aws.getCallerIdentityOutput().accountId;
    const endpoints = ENDPOINT_SERVICES.map((service) =>
        new aws.ec2.VpcEndpoint(`${name}-${service}`, {
            vpcId: vpc.id,
            serviceName: pulumi.interpolate`com.amazonaws.${region.region}.${service}`,
            vpcEndpointType: "Interface",
            privateDnsEnabled: true,
            subnetIds,
            securityGroupIds: [endpointsSg.id],
            // Only this account's queues and secrets through the endpoint:
            // nothing in the VPC can carry data to another account's.
            policy: endpointPolicy(service, account),
            tags,
        }),
    );
    return { functionsSg, dbSg, endpoints };
}
