// The network on Pulumi's mocks: private subnets in zones picked by id,
// no way out of the VPC, the functions only to MySQL and the endpoints,
// the endpoints reached by private DNS (src/network.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { dependsOn, deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's network", () => {
    before(async () => {
        await deployed();
    });

    it("lets only the functions reach MySQL", () => {
        const dbSg = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "orderflow-db")!;
        assert.equal(dbSg.inputs.ingress.length, 1);
        const rule = dbSg.inputs.ingress[0];
        assert.equal(rule.fromPort, 3306);
        assert.equal(rule.toPort, 3306);
        assert.deepEqual(rule.cidrBlocks ?? [], [], "no CIDR range, only the functions' group");
        assert.deepEqual(rule.securityGroups, ["orderflow-functions-id"]);
    });

    it("reaches SQS and Secrets Manager through VPC endpoints, with no NAT gateway or internet gateway", () => {
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").map((e) => e.inputs.serviceName);
        assert.deepEqual(endpoints.sort(), ["com.amazonaws.us-east-1.secretsmanager", "com.amazonaws.us-east-1.sqs"]);
        // Each endpoint carries its own service's calls to this account's resources only.
        for (const e of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) {
            const service = (e.inputs.serviceName as string).split(".").pop();
            const [statement, ...more] = JSON.parse(e.inputs.policy).Statement;
            assert.equal(more.length, 0, e.name);
            assert.equal(statement.Action, `${service}:*`, e.name);
            assert.deepEqual(statement.Condition, { StringEquals: { "aws:ResourceAccount": "123456789012" } }, e.name);
        }
        assert.equal(ofType("aws:ec2/natGateway:NatGateway").length, 0);
        assert.equal(ofType("aws:ec2/internetGateway:InternetGateway").length, 0);
        for (const s of ofType("aws:ec2/subnet:Subnet")) assert.equal(s.inputs.mapPublicIpOnLaunch, false);
    });

    it("puts the subnets in two zones by id, where both endpoints are offered, never use1-az3", async () => {
        const src = await program();
        const zones = ofType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZoneId);
        assert.deepEqual(zones, ["use1-az1", "use1-az6"], "us-east-1a is use1-az3, Secrets Manager skips us-east-1d");
        for (const s of ofType("aws:ec2/subnet:Subnet")) assert.equal(s.inputs.availabilityZone, undefined, "not by name");
        const names = ["a", "b", "c"];
        assert.deepEqual(src.pickZones(names, ["z3", "z1", "z2"], [names, names]), ["z1", "z2"], "in id order, the same in every account");
        assert.deepEqual(src.pickZones(names, ["z3", "z1", "z2"], [names, ["a", "c"]]), ["z2", "z3"], "only where every service is");
        assert.throws(() => src.pickZones(names, ["z1", "z2", "z3"], [["a"], names]), /two zones offering sqs and secretsmanager endpoints/);
    });

    it("lets nothing out of the VPC, in any spelling of a range, and the functions only to MySQL and the endpoints", () => {
        // Every CIDR a rule names must lie inside the VPC's 10.20.0.0/16;
        // any IPv6 range is out (the VPC has none).
        const inside = (cidr: string) => {
            const [ip, bits] = cidr.split("/");
            const [a, b] = ip.split(".").map(Number);
            return Number(bits) >= 16 && a === 10 && b === 20;
        };
        const cidrs = (r: Record<string, any>) => [...(r.cidrBlocks ?? []), ...(r.cidrIpv4 ? [r.cidrIpv4] : [])];
        const v6 = (r: Record<string, any>) => [...(r.ipv6CidrBlocks ?? []), ...(r.cidrIpv6 ? [r.cidrIpv6] : [])];
        for (const sg of [...ofType("aws:ec2/securityGroup:SecurityGroup"), ...ofType("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")]) {
            for (const rule of [...(sg.inputs.egress ?? []), ...(sg.inputs.ingress ?? [])]) {
                for (const cidr of cidrs(rule)) assert.ok(inside(cidr), `${sg.name}: ${cidr} reaches outside the VPC`);
                assert.deepEqual(v6(rule), [], `${sg.name}: IPv6`);
            }
        }
        const rules = [
            ...ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
            ...ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
            ...ofType("aws:ec2/securityGroupRule:SecurityGroupRule"),
        ];
        for (const r of rules) {
            for (const cidr of cidrs(r.inputs)) assert.ok(inside(cidr), `${r.name}: ${cidr} reaches outside the VPC`);
            assert.deepEqual(v6(r.inputs), [], `${r.name}: IPv6`);
        }
        // The functions' group: no rule of its own, two egress rules, each
        // to one group on one port.
        const fnSg = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "orderflow-functions")!;
        assert.deepEqual(fnSg.inputs.egress, []);
        const egress = rules.filter((r) => r.inputs.securityGroupId === "orderflow-functions-id" && r.inputs.type === "egress");
        const to = egress.map((r) => `${r.inputs.fromPort}-${r.inputs.toPort} ${r.inputs.sourceSecurityGroupId}`).sort();
        assert.deepEqual(to, ["3306-3306 orderflow-db-id", "443-443 orderflow-endpoints-id"]);
        // The VPC's default group allows nothing.
        const [def] = ofType("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup");
        assert.deepEqual([def.inputs.ingress, def.inputs.egress], [[], []]);
    });

    const fnDeps = (name: string) => dependsOn[`aws:lambda/function:Function ${name}`];

    it("resolves the SQS and Secrets Manager names to the endpoints (private DNS), and makes the functions and the migration step wait for them", () => {
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
        for (const e of endpoints) assert.equal(e.inputs.privateDnsEnabled, true, e.name);
        const names = endpoints.map((e) => `aws:ec2/vpcEndpoint:VpcEndpoint ${e.name}`);
        for (const f of ofType("aws:lambda/function:Function")) {
            for (const e of names) assert.ok(fnDeps(f.name).includes(e), `${f.name} waits for ${e}`);
        }
        const step = dependsOn["aws:lambda/invocation:Invocation orderflow-migrate"];
        for (const e of names) assert.ok(step.includes(e), `the migration step waits for ${e}`);
    });
});
