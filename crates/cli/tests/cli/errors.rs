//! Bad directories, keys and schemas: clear errors, exit codes, no changes.

use crate::support::Sandbox;

#[test]
fn a_directory_that_is_not_a_vault() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.vault()).unwrap();
    let run = sandbox.run(&["info"]);
    assert_eq!(run.code, 6);
    assert!(
        run.stderr.contains("is not a custos vault"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("custos init --dir"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_dir(sandbox.vault()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[test]
fn init_refuses_an_existing_vault() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let before = std::fs::read(sandbox.vault().join("master.key")).unwrap();
    let run = sandbox.run(&["init"]);
    assert_eq!(run.code, 6);
    assert!(
        run.stderr.contains("already holds a custos vault"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(sandbox.vault().join("master.key")).unwrap(),
        before
    );
}

#[test]
fn a_vault_from_a_newer_version() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let config = sandbox.vault().join("vault.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("format = 1", "format = 99");
    std::fs::write(&config, text).unwrap();
    let run = sandbox.run(&["info"]);
    assert_eq!(run.code, 6);
    assert!(
        run.stderr
            .contains("format 99, newer than this custos supports (1); upgrade custos"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wrong_key_file() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let other = Sandbox::new();
    other.init();
    let foreign = other.vault().join("master.key");
    let store = sandbox.vault().join("store.sqlite");
    let before = std::fs::read(&store).unwrap();
    let run = sandbox.run(&[
        "--key-file",
        foreign.to_str().unwrap(),
        "subject",
        "add",
        "given_name=Ana",
    ]);
    assert_eq!(run.code, 6);
    assert!(run.stderr.contains("wrong master key"), "{}", run.stderr);
    assert_eq!(std::fs::read(&store).unwrap(), before);
}

#[test]
fn an_invalid_schema_names_the_line_and_field() {
    let sandbox = Sandbox::new();
    let schema = sandbox.write(
        "schema.toml",
        "name = \"club\"\n\n[[field]]\nname = \"id\"\ntype = \"text\"\ncategory = \"identity\"\n\n\
         [[field]]\nname = \"health\"\ntype = \"text\"\ncategory = \"special:health\"\nscope = true\n",
    );
    let check = sandbox.run(&["schema", "check", schema.to_str().unwrap()]);
    assert_eq!(check.code, 6);
    assert!(
        check.stderr.contains(
            "line 8: field `health`: a special-category field cannot be a scope attribute"
        ),
        "{}",
        check.stderr
    );
    let init = sandbox.run(&["init", "--schema", schema.to_str().unwrap()]);
    assert_eq!(init.code, 6);
    assert!(
        !sandbox.vault().exists(),
        "a rejected schema creates nothing"
    );
}

#[test]
fn unknown_fields_and_bad_values() {
    let sandbox = Sandbox::new();
    sandbox.init();
    let run = sandbox.run(&[
        "subject",
        "add",
        "shoe_size=9",
        "date_of_birth=1999-02-30",
        "notes=x",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown field `shoe_size`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`date_of_birth` is not a date (expected YYYY-MM-DD)"),
        "{}",
        run.stderr
    );
    let long = format!("notes={}", "x".repeat(4001));
    let run = sandbox.run(&["subject", "add", &long]);
    assert!(
        run.stderr
            .contains("`notes` is longer than 4000 characters"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.subjects(), 0);
}
