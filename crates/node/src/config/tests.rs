//! The configuration's loading, defaults and checks.

use super::*;

fn no_env() -> Env {
    Env::prefixed("SHOAL_TEST_NEVER_SET_").split("__")
}

#[test]
fn default_toml_parses_to_the_default() {
    let parsed: Config = toml::from_str(&default_toml()).unwrap();
    assert_eq!(parsed, Config::default());
    Config::default().validate().unwrap();
}

#[test]
fn default_toml_documents_every_key() {
    let text = default_toml();
    let documented: toml::Value = toml::from_str(&text).unwrap();
    let actual = toml::Value::try_from(Config::default()).unwrap();
    fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                let k = format!("{prefix}{k}");
                keys(v, &format!("{k}."), out);
                out.push(k);
            }
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    keys(&documented, "", &mut a);
    keys(&actual, "", &mut b);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Every key has a comment line right above it or above its section.
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, _)) = line.split_once(" = ") {
            // The line itself, not a longer key ending the same way.
            let pos = text.find(&format!("\n{line}\n")).unwrap() + 1;
            let before = text[..pos].trim_end().lines().last().unwrap_or("");
            assert!(before.starts_with('#'), "key {k} has no comment");
        }
    }
}

#[test]
fn file_values_and_errors_name_the_key() {
    let dir = std::env::temp_dir().join(format!("shoal-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(&path, "workers = 3\n[udp]\nbatch_size = 8\n").unwrap();
    let c = load_from(Some(&path), no_env()).unwrap();
    assert_eq!((c.workers, c.udp.batch_size), (3, 8));

    std::fs::write(&path, "[udp]\nbatch_size = \"many\"\n").unwrap();
    let e = load_from(Some(&path), no_env()).unwrap_err().0;
    assert!(e.contains("udp.batch_size") && e.contains("many"), "{e}");

    std::fs::write(&path, "[udp]\nbatch_sise = 3\n").unwrap();
    let e = load_from(Some(&path), no_env()).unwrap_err().0;
    assert!(e.contains("udp.batch_sise"), "{e}");

    std::fs::write(&path, "[udp]\nlisten = [\"nowhere\"]\n").unwrap();
    let e = load_from(Some(&path), no_env()).unwrap_err().0;
    assert!(e.contains("udp.listen") && e.contains("nowhere"), "{e}");

    let e = load_from(Some(&dir.join("missing.toml")), no_env())
        .unwrap_err()
        .0;
    assert!(e.contains("missing.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn validation_names_key_and_value() {
    let mut c = Config::default();
    c.udp.connection_id_max_age = 60;
    let e = c.validate().unwrap_err().0;
    assert!(
        e.contains("udp.connection_id_max_age") && e.contains("60"),
        "{e}"
    );
    let mut c = Config::default();
    c.tracker.default_numwant = 999;
    assert!(c
        .validate()
        .unwrap_err()
        .0
        .contains("tracker.default_numwant"));
    let mut c = Config::default();
    c.tracker.shards = 3;
    assert!(c.validate().unwrap_err().0.contains("tracker.shards"));
    let mut c = Config::default();
    c.http.trusted_proxies = vec!["10.0.0.0/99".into()];
    let e = c.validate().unwrap_err().0;
    assert!(
        e.contains("http.trusted_proxies") && e.contains("10.0.0.0/99"),
        "{e}"
    );
    let mut c = Config::default();
    c.udp.connection_id_secret = "abc".into();
    let e = c.validate().unwrap_err().0;
    assert!(
        e.contains("udp.connection_id_secret") && !e.contains("abc"),
        "secret not echoed: {e}"
    );
}

/// The preview's keys that relate to each other or hold lists are checked too.
#[test]
fn preview_keys_are_checked() {
    let mut c = Config::default();
    c.catalog.preview_images = vec!["jpg".into(), ".PNG".into()];
    let e = c.validate().unwrap_err().0;
    assert!(
        e.contains("catalog.preview_images") && e.contains("\".PNG\""),
        "{e}"
    );
    let mut c = Config::default();
    c.catalog.preview_texts = vec![String::new()];
    assert!(c
        .validate()
        .unwrap_err()
        .0
        .contains("catalog.preview_texts"));
    let mut c = Config::default();
    c.catalog.preview_max_total = c.catalog.preview_max_file - 1;
    let e = c.validate().unwrap_err().0;
    assert!(
        e.contains("catalog.preview_max_total") && e.contains("preview_max_file"),
        "{e}"
    );
    let mut c = Config::default();
    c.catalog.preview_disk_budget = 1000;
    assert!(c
        .validate()
        .unwrap_err()
        .0
        .contains("catalog.preview_disk_budget"));
    let mut c = Config::default();
    c.catalog.preview = true;
    c.validate().unwrap();
}

/// A node's name is checked (it keys store rows and will name NATS subjects), and an
/// empty one is the host name made to fit.
#[test]
fn node_ids_are_checked_and_default_to_the_host_name() {
    for bad in ["a b", "node/1", "ünïcode", &"n".repeat(65)] {
        let mut c = Config::default();
        c.cluster.node_id = bad.into();
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("cluster.node_id"), "{bad:?}: {e}");
    }
    let mut c = Config::default();
    c.cluster.node_id = "east-1.eu_2".into();
    c.validate().unwrap();
    assert_eq!(c.cluster.effective_node_id(), "east-1.eu_2");
    let host = Config::default().cluster.effective_node_id();
    assert!(shoal_protocol::cluster::valid_node_id(&host), "{host:?}");
}

/// NATS URLs are checked, and sharing swarms needs the shared secret they are signed
/// with.
#[test]
fn a_cluster_needs_nats_urls_and_the_shared_secret() {
    let mut c = Config::default();
    c.cluster.nats = vec!["nats://127.0.0.1:4222".into()];
    let e = c.validate().unwrap_err().0;
    assert!(e.contains("udp.connection_id_secret"), "{e}");
    c.udp.connection_id_secret = "00112233445566778899aabbccddeeff".into();
    c.validate().unwrap();
    assert!(c.engine().replicate);
    c.cluster.nats = vec!["http://user:pw@host".into()];
    let e = c.validate().unwrap_err().0;
    assert!(e.contains("cluster.nats") && !e.contains("pw"), "{e}");
    assert!(!Config::default().engine().replicate);
}

#[test]
fn secrets_parse() {
    assert_eq!(
        parse_secret("000102030405060708090a0b0c0d0e0f").unwrap()[15],
        15
    );
    assert!(parse_secret("zz0102030405060708090a0b0c0d0e0f").is_none());
    assert!(parse_secret("+f0102030405060708090a0b0c0d0e0f").is_none());
}
