#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Static checks of the deployment files (there is no Docker engine to build or run them here):
//! compose.yaml parsed as YAML, the Dockerfile read as instructions, and the proxy configs in
//! docker/ searched for what the real-proxy tests (tests/proxy/run.sh) rely on.

use std::path::Path;

use serde_norway::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

// ---------------------------------------------------------------------------------------------
// compose.yaml

fn compose() -> Value {
    serde_norway::from_str(&read("compose.yaml")).expect("compose.yaml is valid YAML")
}

fn service<'a>(c: &'a Value, name: &str) -> &'a Value {
    let s = &c["services"][name];
    assert!(s.is_mapping(), "compose.yaml has no service `{name}`");
    s
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `environment:` as (name, value) pairs, whether written as a map or a list.
fn environment(s: &Value) -> Vec<(String, String)> {
    match &s["environment"] {
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_norway::to_string(other).unwrap().trim().to_owned(),
                };
                (k.as_str().unwrap_or_default().to_owned(), v)
            })
            .collect(),
        Value::Sequence(_) => strings(&s["environment"])
            .into_iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (e, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn env_value(s: &Value, name: &str) -> Option<String> {
    environment(s)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Container paths of a service's volumes (short `src:dst[:mode]` or long `target:` syntax).
fn volume_targets(s: &Value) -> Vec<String> {
    match &s["volumes"] {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(short) => short.split(':').nth(1).map(str::to_owned),
                Value::Mapping(_) => v["target"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn healthcheck_test(s: &Value) -> Vec<String> {
    strings(&s["healthcheck"]["test"])
}

fn depends_healthy(s: &Value, on: &str) -> bool {
    s["depends_on"][on]["condition"].as_str() == Some("service_healthy")
}

#[test]
fn compose_has_the_three_services_on_a_private_network() {
    let c = compose();
    for name in ["navidrome", "spotter", "caddy"] {
        let s = service(&c, name);
        assert!(
            !s["networks"].is_null(),
            "{name} must join the private network (not the default bridge)"
        );
        assert_ne!(
            s["network_mode"].as_str(),
            Some("host"),
            "{name} must not use host networking"
        );
        let restart = s["restart"].as_str().unwrap_or_default();
        assert!(
            matches!(restart, "unless-stopped" | "always" | "on-failure"),
            "{name} needs a restart policy, has {restart:?}"
        );
    }
    let image = service(&c, "navidrome")["image"]
        .as_str()
        .unwrap_or_default();
    assert!(
        image.starts_with("deluan/navidrome:"),
        "navidrome uses the official image with a tag: {image}"
    );
    assert!(
        !image.ends_with(":latest"),
        "pin a Navidrome version, not :latest"
    );
}

#[test]
fn only_the_proxy_publishes_ports() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services is a map");
    for (name, s) in services {
        let name = name.as_str().unwrap_or_default();
        if name == "caddy" {
            let ports = strings(&s["ports"]);
            assert!(
                ports.iter().any(|p| p.ends_with(":443")),
                "caddy publishes 443: {ports:?}"
            );
        } else {
            assert!(
                s["ports"].is_null(),
                "only caddy may publish ports; {name} does"
            );
        }
    }
}

#[test]
fn spotter_service_is_healthchecked_stateful_and_wired_to_navidrome() {
    let c = compose();
    let spotter = service(&c, "spotter");

    let test = healthcheck_test(spotter);
    assert!(
        test.iter().any(|t| t.ends_with("spotter")) && test.iter().any(|t| t == "healthcheck"),
        "spotter's health check runs `spotter healthcheck`: {test:?}"
    );
    assert!(
        !test
            .iter()
            .any(|t| t.contains("curl") || t.contains("wget")),
        "the image has no curl/wget: {test:?}"
    );
    assert!(
        volume_targets(spotter).iter().any(|t| t == "/data"),
        "spotter keeps its state in a /data volume"
    );
    let nav = env_value(spotter, "SPOTTER_NAVIDROME_BASE_URL").unwrap_or_default();
    assert!(
        nav.starts_with("http://navidrome:"),
        "Spotter reaches Navidrome by its service name: {nav:?}"
    );
    assert_eq!(
        env_value(spotter, "SPOTTER_DATABASE_SOURCE").as_deref(),
        Some("/data/spotter.db")
    );
    let base = env_value(spotter, "SPOTTER_SERVER_BASE_URL").unwrap_or_default();
    assert!(
        base.starts_with("https://"),
        "behind Caddy the base URL is https: {base:?}"
    );
    assert!(
        depends_healthy(spotter, "navidrome"),
        "spotter waits for a healthy navidrome"
    );
}

#[test]
fn navidrome_and_caddy_keep_state_in_volumes_and_start_in_order() {
    let c = compose();
    let navidrome = service(&c, "navidrome");
    assert!(
        !healthcheck_test(navidrome).is_empty(),
        "navidrome has a health check"
    );
    assert!(volume_targets(navidrome).iter().any(|t| t == "/data"));

    let caddy = service(&c, "caddy");
    let targets = volume_targets(caddy);
    for t in ["/data", "/config", "/etc/caddy/Caddyfile"] {
        assert!(
            targets.iter().any(|x| x == t),
            "caddy mounts {t}: {targets:?}"
        );
    }
    let caddyfile_mount = strings(&caddy["volumes"]);
    assert!(
        caddyfile_mount
            .iter()
            .any(|v| v.starts_with("./docker/Caddyfile:")),
        "caddy runs the tested docker/Caddyfile"
    );
    assert!(
        depends_healthy(caddy, "spotter"),
        "caddy waits for a healthy spotter"
    );
}

#[test]
fn compose_trusts_exactly_the_proxy_and_keeps_secrets_out_of_the_file() {
    let c = compose();
    let spotter = service(&c, "spotter");
    let trusted = env_value(spotter, "SPOTTER_SECURITY_TRUSTED_PROXIES").unwrap_or_default();
    let caddy_ip = c["services"]["caddy"]["networks"]["backend"]["ipv4_address"]
        .as_str()
        .expect("caddy has a fixed address on the backend network");
    assert_eq!(
        trusted,
        format!("{caddy_ip}/32"),
        "only Caddy may set X-Forwarded-*"
    );

    for (name, value) in environment(spotter) {
        let secret = ["KEY", "SECRET", "PASSWORD", "TOKEN"]
            .iter()
            .any(|w| name.contains(w));
        if secret && !name.ends_with("_FILE") {
            assert!(
                value.is_empty(),
                "{name} must come from .env or a Docker secret, not compose.yaml"
            );
        }
    }
    assert!(
        !spotter["env_file"].is_null() || !spotter["secrets"].is_null(),
        "spotter gets its secrets from an env file or Docker secrets"
    );
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// Instructions with continuation lines joined and comments dropped: (KEYWORD, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (kw, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        out.push((kw.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    out
}

/// The instructions of the last stage (the runtime image).
fn final_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let last_from = all.iter().rposition(|(k, _)| k == "FROM").expect("a FROM");
    all[last_from..].to_vec()
}

fn args_of<'a>(stage: &'a [(String, String)], kw: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(k, _)| k == kw)
        .map(|(_, a)| a.as_str())
        .collect()
}

#[test]
fn dockerfile_is_multi_stage_with_a_pinned_toolchain_and_the_shared_build_script() {
    let all = dockerfile();
    let froms = args_of(&all, "FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let rust_version = args_of(&all, "ARG")
        .into_iter()
        .find_map(|a| a.strip_prefix("RUST_VERSION="))
        .expect("ARG RUST_VERSION pins the toolchain");
    assert!(
        rust_version.split('.').count() == 3
            && rust_version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "an exact toolchain version: {rust_version}"
    );
    assert!(froms.iter().any(|f| f.starts_with("rust:${RUST_VERSION}")));

    let env = args_of(&all, "ENV").join(" ");
    assert!(
        env.contains("SQLX_OFFLINE=true"),
        "the builder sets SQLX_OFFLINE=true"
    );
    let runs = args_of(&all, "RUN").join("\n");
    assert!(
        runs.contains("docker/build-release.sh --deps"),
        "dependencies get their own cached layer"
    );
    assert!(
        runs.contains("docker/build-release.sh /"),
        "the build is the script CI runs"
    );

    let script = read("docker/build-release.sh");
    for needle in ["SQLX_OFFLINE=true", "--release", "--locked", "crt-static"] {
        assert!(script.contains(needle), "build-release.sh uses {needle}");
    }
}

#[test]
fn runtime_image_has_no_shell_runs_as_numeric_non_root_and_keeps_data_in_a_volume() {
    let stage = final_stage();
    let from = args_of(&stage, "FROM")[0];
    assert!(
        from.starts_with("gcr.io/distroless/static") || from.starts_with("scratch"),
        "runtime image without a shell: {from}"
    );
    if from.starts_with("scratch") {
        assert!(
            args_of(&stage, "COPY")
                .iter()
                .any(|c| c.contains("ca-certificates")),
            "scratch needs CA certificates copied in"
        );
    }

    let user = args_of(&stage, "USER");
    let user = user.last().expect("a USER instruction");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let uid: u32 = uid.parse().expect("numeric uid");
    let gid: u32 = gid.parse().expect("numeric gid");
    assert!(uid > 0 && gid > 0, "non-root: {user}");

    let volumes = args_of(&stage, "VOLUME").join(" ");
    assert!(volumes.contains("/data"), "VOLUME /data: {volumes}");
    let env = args_of(&stage, "ENV").join(" ");
    assert!(
        env.contains("SPOTTER_DATABASE_SOURCE=/data/spotter.db"),
        "{env}"
    );
    assert!(
        args_of(&stage, "COPY")
            .iter()
            .any(|c| c.contains(&format!("--chown={uid}:{gid}")) && c.ends_with("/data")),
        "/data is owned by the runtime user"
    );
    assert!(
        args_of(&stage, "EXPOSE")
            .iter()
            .any(|e| e.split_whitespace().any(|p| p == "8080"))
    );

    let health = args_of(&stage, "HEALTHCHECK").join(" ");
    assert!(
        health.contains(r#"CMD ["/usr/local/bin/spotter", "healthcheck"]"#),
        "exec-form HEALTHCHECK with the binary's own subcommand: {health}"
    );
    let entry = args_of(&stage, "ENTRYPOINT").join(" ");
    assert!(
        entry.starts_with('['),
        "exec-form ENTRYPOINT (no shell): {entry}"
    );
}

#[test]
fn no_secret_in_any_layer() {
    for (kw, args) in dockerfile() {
        if kw != "ENV" && kw != "ARG" {
            continue;
        }
        for word in args.split_whitespace() {
            let name = word
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            assert!(
                !["SECRET", "KEY", "TOKEN", "PASSWORD"]
                    .iter()
                    .any(|s| name.contains(s)),
                "{kw} {word}: secrets come at run time, never from the image"
            );
        }
    }
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for must in [".env", "secrets", "target", ".git", "*.db"] {
        assert!(lines.contains(&must), ".dockerignore excludes {must}");
    }
}

// ---------------------------------------------------------------------------------------------
// Proxy configurations

/// The body of the first block that starts with `header` (up to its matching brace).
fn block<'a>(text: &'a str, header: &str) -> &'a str {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("no `{header}` block"));
    let open = start + text[start..].find('{').expect("an opening brace");
    let mut depth = 0;
    for (i, ch) in text[open..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced `{header}` block")
}

/// Lines that are not comments.
fn active(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn caddyfile_streams_events_and_forwards_the_client() {
    let text = read("docker/Caddyfile");
    let conf = active(&text);
    let events = block(&conf, "handle /events");
    assert!(
        events.contains("flush_interval -1"),
        "SSE must not be buffered"
    );
    assert!(conf.contains("reverse_proxy {$SPOTTER_UPSTREAM:spotter:8080}"));
    assert!(conf.contains("max_size"), "a request body limit");
    assert!(
        !conf.contains("encode"),
        "compression would buffer the event stream"
    );
    // Caddy sets X-Forwarded-For/Proto/Host itself; the file says so for the reader.
    assert!(text.contains("X-Forwarded-For") && text.contains("X-Forwarded-Proto"));
}

#[test]
fn nginx_conf_terminates_tls_forwards_the_client_and_streams_events() {
    let text = active(&read("docker/nginx.conf"));
    assert!(text.contains("ssl_certificate ") && text.contains("ssl_certificate_key "));
    assert!(text.contains("listen 443 ssl"));
    for header in [
        "proxy_set_header X-Forwarded-For ",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Host ",
    ] {
        assert!(text.contains(header), "nginx.conf sets `{header}`");
    }
    let events = block(&text, "location = /events");
    assert!(
        events.contains("proxy_buffering off;"),
        "SSE must not be buffered"
    );
    assert!(
        events.contains("proxy_read_timeout 1h;"),
        "a long read timeout on /events"
    );
    assert!(
        !events.contains("proxy_set_header"),
        "a proxy_set_header inside the location would drop the X-Forwarded-* headers"
    );
    assert!(
        text.contains("client_max_body_size"),
        "an upload size limit"
    );
}
