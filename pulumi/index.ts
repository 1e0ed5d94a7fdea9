// `pulumi up` entry point: deploys orderflow with the stack's settings and
// exports the endpoints (src/deploy.ts says what is built and why).
import { deploy } from "./src/deploy";
import { settings } from "./src/settings";

const out = deploy(settings());

export const api_endpoint = out.api_endpoint;
export const db_endpoint = out.db_endpoint;
export const alarm_topic_arn = out.alarm_topic_arn;
export const migrate_function = out.migrate_function;
export const order_queue_url = out.order_queue_url;
export const order_dlq_url = out.order_dlq_url;
export const processed_queue_url = out.processed_queue_url;
export const processed_dlq_url = out.processed_dlq_url;
