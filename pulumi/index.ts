// `pulumi up` entry point: deploys orderflow with the stack's settings and
// exports the endpoints and the names `sim rehearse` and `sim collect` read
// (src/deploy.ts says what is built and why; a test checks every output
// deploy returns is exported here).
import { deploy } from "./src/deploy";
import { settings } from "./src/settings";

const out = deploy(settings());

export const api_endpoint = out.api_endpoint;
export const api_id = out.api_id;
export const stage = out.stage;
export const function_names = out.function_names;
export const db_instance_id = out.db_instance_id;
export const db_endpoint = out.db_endpoint;
export const alarm_topic_arn = out.alarm_topic_arn;
export const migrate_function = out.migrate_function;
export const order_queue_url = out.order_queue_url;
export const order_dlq_url = out.order_dlq_url;
export const processed_queue_url = out.processed_queue_url;
export const processed_dlq_url = out.processed_dlq_url;
// A rehearsal stack's token issuer (config `rehearsal`): unset otherwise.
export const rehearsal_token_url = out.rehearsal_token_url;
export const rehearsal_client_id = out.rehearsal_client_id;
export const rehearsal_client_secret = out.rehearsal_client_secret;
export const rehearsal_scope = out.rehearsal_scope;
