//! The sim's own requests in a rehearsal: a token from the pool, a probe
//! order through the authorizer.

use serde_json::Value;

use super::super::run::Ctx;

/// An access token by the client credentials grant.
pub async fn token(ctx: &mut Ctx) -> Result<(), String> {
    let url = ctx.fill("{rehearsal_token_url}", false)?;
    let (id, scope) = (
        ctx.fill("{rehearsal_client_id}", false)?,
        ctx.fill("{rehearsal_scope}", false)?,
    );
    let secret = ctx
        .client_secret
        .clone()
        .ok_or("no client secret: outputs.json was not read")?;
    let body = format!(
        "grant_type=client_credentials&scope={}",
        scope.replace('/', "%2F")
    );
    let answer = orderflow_client::http()
        .post(&url)
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {}", engine::report::error_chain(&e)))?;
    let status = answer.status();
    let json: Value = answer.json().await.unwrap_or(Value::Null);
    match json.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => {
            ctx.token = Some(token.to_owned());
            ctx.say(&format!(
                "  a token, for {} s",
                json.get("expires_in").map_or("?".into(), Value::to_string)
            ));
            Ok(())
        }
        _ => Err(format!(
            "the token endpoint answered {status} {}",
            json.get("error").unwrap_or(&Value::Null)
        )),
    }
}

/// A probe order for the client, with the token or without; it must get
/// `expect`.
pub async fn order(ctx: &mut Ctx, with_token: bool, expect: u16) -> Result<(), String> {
    let api = ctx.fill("{api_endpoint}", false)?;
    let customer = ctx.fill("{rehearsal_client_id}", false)?;
    let mut client = orderflow_client::Client::new(api).map_err(|e| e.to_string())?;
    if with_token {
        let token = ctx.token.clone().ok_or("no token yet")?;
        client = client.with_bearer(&token).map_err(|e| e.to_string())?;
    }
    ctx.probes += 1;
    let key = format!(
        "rehearsal-probe-{}-{}",
        chrono::Utc::now().timestamp_millis(),
        ctx.probes
    );
    let body = serde_json::json!({"customer_id": customer, "items": [{"product_id": "sim-item-01", "quantity": 1}]});
    let answer = client
        .post_order_keyed(body.to_string(), Some(&key))
        .await
        .map_err(|e| format!("POST api/orders: {e}"))?;
    let token = if with_token {
        "with the token"
    } else {
        "without a token"
    };
    ctx.say(&format!(
        "  an order {token}: {} {}",
        answer.status,
        answer.text.trim()
    ));
    match answer.status == expect {
        true => Ok(()),
        false => Err(format!(
            "an order {token} got {}, not {expect}: {}",
            answer.status,
            answer.text.trim()
        )),
    }
}
