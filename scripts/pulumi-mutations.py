#!/usr/bin/env python3
"""Shows that the Pulumi tests catch each risky change to the program.

Breaks the program (pulumi/src/) in one way at a time (a managed policy
attached, a wildcard action, a wildcard resource, egress to the internet, a
public database, TLS not required, a mapping without a concurrency cap, a
production stack without deletion protection, alarms without an action or
without OK actions, max_connections left to RDS's formula, the read routes
sent to the ingest function, the read routes' own throttles dropped, egress
out of the VPC in any spelling, endpoints without private DNS, the functions
not waiting for the migration step, a visibility timeout under six times a
function's timeout, a stack without a preset, a migration step that is not
re-run for new code or not told the digest to check, the queues' backlog
alarm at ten minutes, a silent database not alarming, no account quota
check, a production stack without JWT or allowAnonymous, a rehearsal's
authorizer trusting another issuer than its own user pool, a database without
a pinned maintenance window, the application user allowed from anywhere, the
API calling $LATEST instead of the live alias, network-interface changes
outside the VPC, subnets placed by zone name, orders for any customer behind
the JWT authorizer, no alarms on the functions' own metrics, a migrate role
without the rotation's last Secrets Manager call, functions deployed without
their zips' hash; and by class: a resource type nobody reviewed, an action
added to a role, a role another service may assume, an invoke permission for
any stage and route, a mapping deployed disabled, a batch size, a DLQ
retention or a stage burst that is not the settings file's, alarms watching
another function than their name), compiles it and runs the tests on it (the
edited part's own test file first, the whole suite when none of those fails;
without eslint, whose complaints about a break's code would keep the tests
from running), and fails unless some test fails for each; the program is restored afterwards, whatever happens. Each break names
the file of pulumi/src/ it edits and text found exactly once in it: the
script refuses to start when one is not, so a change to the program cannot
quietly retire a break. Needs `npm ci` done in pulumi/.
"""
import pathlib
import re
import subprocess
import sys

PULUMI = pathlib.Path(__file__).resolve().parent.parent / "pulumi"
SRC = PULUMI / "src"

BREAKS = {
    "a managed policy attached": (
        "iam.ts",
        "    const policy = new aws.iam.RolePolicy(",
        "    new aws.iam.RolePolicyAttachment(`${name}-${fname}-vpc`, { role: role.name, "
        'policyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" });\n'
        "    const policy = new aws.iam.RolePolicy(",
    ),
    "a wildcard action": (
        "iam.ts",
        'Action: ["logs:CreateLogStream", "logs:PutLogEvents"]',
        'Action: ["logs:*"]',
    ),
    "a wildcard resource outside the network-interface exception": (
        "iam.ts",
        '"sqs:GetQueueAttributes"],\n    Resource: arn,',
        '"sqs:GetQueueAttributes"],\n    Resource: arn ? "*" : "*",',
    ),
    "egress to 0.0.0.0/0": (
        "network.ts",
        'description: "orderflow Lambda functions",\n        egress: [],',
        'description: "orderflow Lambda functions",\n        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],',
    ),
    "egress to ::/0": (
        "network.ts",
        'description: "orderflow Lambda functions",\n        egress: [],',
        'description: "orderflow Lambda functions",\n        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }],',
    ),
    "egress to the internet in two halves": (
        "network.ts",
        'description: "orderflow Lambda functions",\n        egress: [],',
        'description: "orderflow Lambda functions",\n        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/1", "128.0.0.0/1"] }],',
    ),
    "VPC endpoints without private DNS": ("network.ts", "privateDnsEnabled: true,", "privateDnsEnabled: false,"),
    "the functions not waiting for the migration step": (
        "functions.ts",
        "fn, { dependsOn: [migrated] });",
        "fn, { dependsOn: [migrated].filter(() => false) });",
    ),
    "a visibility timeout under six times a function's timeout": (
        "queues.ts",
        "visibilityTimeoutSeconds: shape.visibility_timeout_secs,",
        "visibilityTimeoutSeconds: shape.functions.processor.timeout_secs,",
    ),
    "alarms without OK actions": ("alarms.ts", "            okActions: [topic.arn],", "            okActions: [],"),
    "a migrate step that does not re-run for new migrate code": (
        "migration.ts",
        "            code: migrate.sourceCodeHash,\n",
        "",
    ),
    "a migrate role without the rotation's last call": (
        "migration.ts",
        '                    "secretsmanager:UpdateSecretVersionStage",\n',
        "",
    ),
    "functions deployed without their zips' hash": (
        "lambda.ts",
        "            sourceCodeHash: zipSha256(zip),\n",
        "",
    ),
    # Classes (tests/classes.test.ts): a new resource type, an action
    # added, a trust or an invoke permission widened, a value no longer
    # from the settings file, an alarm on another resource than its name.
    "a function URL, a resource type nobody reviewed": (
        "api.ts",
        "    const stage = apiStage(st, api, routeResources);\n",
        "    const stage = apiStage(st, api, routeResources);\n"
        '    new aws.lambda.FunctionUrl(`${name}-url`, { functionName: ingest.name, authorizationType: "NONE" });\n',
    ),
    "a consumer allowed to purge its queue": (
        "iam.ts",
        '"sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],',
        '"sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:PurgeQueue"],',
    ),
    "a role another service may assume": (
        "iam.ts",
        'Principal: { Service: "lambda.amazonaws.com" }',
        'Principal: { Service: ["lambda.amazonaws.com", "edgelambda.amazonaws.com"] }',
    ),
    "an invoke permission for any stage and route": (
        "api.ts",
        "sourceArn: pulumi.interpolate`${api.executionArn}/${routeSourceArn(routeKey)}`,",
        "sourceArn: pulumi.interpolate`${api.executionArn}/*/*`,",
    ),
    "a mapping deployed disabled": (
        "functions.ts",
        '            functionResponseTypes: ["ReportBatchItemFailures"],\n',
        '            functionResponseTypes: ["ReportBatchItemFailures"],\n            enabled: false,\n',
    ),
    "a batch size that is not the settings file's": (
        "functions.ts",
        "batchSize: shape.event_sources[fname].batch_size,",
        "batchSize: 10,",
    ),
    "a DLQ that keeps its messages an hour": (
        "queues.ts",
        "messageRetentionSeconds: 14 * 24 * 3600,",
        "messageRetentionSeconds: 3600,",
    ),
    "a stage burst that is not the settings file's": (
        "api.ts",
        "throttlingBurstLimit: shape.stage_throttle.burst,",
        "throttlingBurstLimit: 5000,",
    ),
    "a function's alarms watching another function": (
        "alarms.ts",
        "            dimensions: { FunctionName: func.name },\n",
        "            dimensions: { FunctionName: func.name.apply((n) => n.replace(/-[a-z]+$/, \"-ingest\")) },\n",
    ),
    "demo stock keyed on the stack's name, not its preset": (
        "migration.ts",
        'DEMO_INVENTORY: String(st.s.preset === "dev"),',
        'DEMO_INVENTORY: String(st.physical === "orderflow-dev"),',
    ),
    "any signed-in customer reading any order": (
        "functions.ts",
        "                      ...(s.jwt ? { CUSTOMER_CLAIM: s.jwt.customerClaim } : {}),\n                  },",
        "                  },",
    ),
    "endpoints open to any account's queues and secrets": (
        "iam.ts",
        '{ "aws:ResourceAccount": id } }',
        '{ "aws:ResourceAccount": id ? "*" : "*" } }',
    ),
    "429s counted with every other 4xx": (
        "alarms.ts",
        "pattern: '{ $.status = \"429\" }',",
        "pattern: '{ $.status = \"4*\" }',",
    ),
    "no alarm on a burstable instance's storage bursts": (
        "database.ts",
        '            "db-ebs-io-balance": ["EBSIOBalance%",',
        '            "db-ebs-io-balance-unused": ["CPUCreditBalance",',
    ),
    "a migrate step not told the digest its binary must carry": (
        "migration.ts",
        "input: JSON.stringify({ migrations: digest }),",
        "input: JSON.stringify({}),",
    ),
    "the queues' backlog alarm at ten minutes": (
        "queues.ts",
        "threshold: OLDEST_MESSAGE_ALARM_SECS,",
        "threshold: 600,",
    ),
    "a silent database not alarming": (
        "database.ts",
        '        comparisonOperator: "GreaterThanThreshold",\n        treatMissingData: "breaching",\n',
        '        comparisonOperator: "GreaterThanThreshold",\n',
    ),
    "no account quota check before the migration step": (
        "migration.ts",
        "            accountConcurrency: aws.servicequotas",
        "            accountConcurrencyUnchecked: aws.servicequotas",
    ),
    "a production stack without JWT and without allowAnonymous": (
        "settings.ts",
        '!(issuer && audience) && !c.getBoolean("allowAnonymous")',
        'false && !c.getBoolean("allowAnonymous")',
    ),
    "a rehearsal's authorizer trusting another issuer than its own user pool": (
        "rehearsal.ts",
        "issuer: pulumi.interpolate`https://cognito-idp.${region}.amazonaws.com/${pool.id}`,",
        "issuer: pulumi.interpolate`https://cognito-idp.${region}.amazonaws.com/${pool.name}`,",
    ),
    "a database whose changes wait for no pinned window": (
        "database.ts",
        "        maintenanceWindow: s.dbMaintenanceWindow,\n",
        "",
    ),
    "the application user allowed from anywhere": (
        "migration.ts",
        'APP_DB_USER_HOST: "10.20.%",',
        'APP_DB_USER_HOST: "%",',
    ),
    "the API calling $LATEST instead of the live alias": (
        "api.ts",
        "integrationUri: alias.invokeArn,",
        "integrationUri: [ingest, alias][0].invokeArn,",
    ),
    "a stack without a preset deployed as dev": (
        "settings.ts",
        'const preset = c.get("preset") as Preset | undefined;',
        'const preset = (c.get("preset") ?? "dev") as Preset | undefined;',
    ),
    "a public database": ("database.ts", "publiclyAccessible: false,", "publiclyAccessible: true,"),
    "TLS not required": (
        "database.ts",
        '{ name: "require_secure_transport", value: "1" }',
        '{ name: "require_secure_transport", value: "0" }',
    ),
    "a mapping without a concurrency cap": (
        "functions.ts",
        "            scalingConfig: { maximumConcurrency: mappingCap(shape, fname) },\n",
        "            scalingConfig: mappingCap(shape, fname) ? undefined : undefined,\n",
    ),
    "a production preset without deletion protection": (
        "settings.ts",
        "        multiAz: true,\n        deletionProtection: true,",
        "        multiAz: true,\n        deletionProtection: false,",
    ),
    "alarms without an action": ("alarms.ts", "            alarmActions: [topic.arn],", "            alarmActions: [],"),
    "max_connections left to RDS's formula": (
        "database.ts",
        '            { name: "max_connections", value: String(shape.max_connections) },\n',
        "",
    ),
    "the read routes sent to the ingest function": (
        "api.ts",
        "const readIntegration = liveRead ? integrationOf(\"read\", liveRead) : ingestIntegration;",
        "const readIntegration = [ingestIntegration, liveRead][0] as aws.apigatewayv2.Integration;",
    ),
    "the read routes' own throttles dropped": (
        "api.ts",
        "routeSettings: Object.entries(shape.route_throttles ?? {})",
        "routeSettings: Object.entries({} as Record<string, { rate: number; burst: number }>)",
    ),
    "network-interface changes allowed outside the stack's VPC": (
        "iam.ts",
        'Condition: { ArnEquals: { "ec2:Vpc": vpcArn } },',
        "Condition: vpcArn ? undefined : undefined,",
    ),
    "subnets placed by zone name": (
        "network.ts",
        "availabilityZoneId: picked.apply((p) => p[i]),",
        "availabilityZone: pulumi.all([picked, zones.names]).apply(([, names]) => names[i]),",
    ),
    "orders for any customer behind the JWT authorizer": (
        "functions.ts",
        "an order is the token's customer's.\n                ...(s.jwt ? { CUSTOMER_CLAIM: s.jwt.customerClaim } : {}),",
        "an order is the token's customer's.\n                ...(s.jwt ? {} : {}),",
    ),
    "no alarm on the functions' store retries": (
        "alarms.ts",
        "        emfAlarms(alarm, fname, func);\n",
        '        if (String(fname) === "none") emfAlarms(alarm, fname, func);\n',
    ),
}


def compile_program() -> None:
    """`tsc -p .` on the program as it is; a break that does not compile is
    the script's own mistake, not a catch."""
    out = subprocess.run([str(PULUMI / "node_modules" / ".bin" / "tsc"), "-p", "."], cwd=PULUMI,
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0 or re.search(r"error TS\d+", text):
        sys.exit(f"the broken program does not compile:\n{text}")


def failing_tests(files: list[str]) -> list[str]:
    """The tests (not the suites) of the compiled test `files` that fail."""
    out = subprocess.run(["node", "--test", "--test-concurrency=2", "--test-reporter=tap", *files],
                         cwd=PULUMI, capture_output=True, text=True)
    text = out.stdout + out.stderr
    # Each `not ok` line, with the type its YAML block gives it.
    failed = re.findall(r"^\s*not ok \d+ - (.*)$\n(?:(?!\s*(?:not )?ok \d+ ).*\n)*?\s*type: '(\w+)'", text, re.M)
    return [name for name, kind in failed if kind == "test"]


def caught_by(file: str) -> list[str]:
    """The tests that fail on the broken program: those of the edited part's
    own test file (tests/<part>.test.ts) when one of them does, which is the
    usual case and a sixth of the suite's time; else the whole suite's."""
    compile_program()
    tests = PULUMI / "dist" / "tests"
    own = tests / (pathlib.Path(file).stem + ".test.js")
    if own.exists():
        caught = failing_tests([str(own.relative_to(PULUMI))])
        if caught:
            return caught
    return failing_tests(sorted(str(t.relative_to(PULUMI)) for t in tests.glob("*.test.js")))


def anchors() -> dict[pathlib.Path, str]:
    """Each edited file's text, once every break's anchor is found in it exactly once."""
    files = {}
    for name, (file, old, _) in BREAKS.items():
        path = SRC / file
        if not path.exists():
            sys.exit(f"cannot make '{name}': there is no pulumi/src/{file}")
        files[path] = path.read_text()
        count = files[path].count(old)
        if count != 1:
            sys.exit(f"cannot make '{name}': pulumi/src/{file} contains {old!r} {count} times, not once")
    return files


def main() -> int:
    good = anchors()
    missed = []
    try:
        for name, (file, old, new) in BREAKS.items():
            path = SRC / file
            path.write_text(good[path].replace(old, new, 1))
            try:
                caught = caught_by(file)
            finally:
                path.write_text(good[path])
            print(f"{name}: caught by {caught}" if caught else f"{name}: NOT CAUGHT")
            if not caught:
                missed.append(name)
    finally:
        for path, text in good.items():
            path.write_text(text)
    if missed:
        print(f"the Pulumi tests miss: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
