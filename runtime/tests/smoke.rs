use luge_runtime::*;

fn load(wat: &str, bounds: awsm_compiler::BoundsMode) -> (tempfile::TempDir, Module) {
    let wasm = wat::parse_str(wat).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.so");
    let opts = awsm_compiler::CompileOptions { bounds, ..Default::default() };
    awsm_compiler::compile_to_file(&wasm, &opts, &path).unwrap();
    let m = Module::load(&path).unwrap();
    (dir, m)
}

#[test]
fn smoke() {
    for bounds in [awsm_compiler::BoundsMode::Guard, awsm_compiler::BoundsMode::Software] {
    let (_d, m) = load(r#"(module
      (memory 1)
      (func (export "fac") (param i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
          (else (i64.mul (local.get 0) (call 0 (i64.sub (local.get 0) (i64.const 1)))))))
      (func (export "unreachable") unreachable)
      (func (export "oob") (result i32) (i32.load (i32.const 70000)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
      (func $rec (export "rec") (call $rec))
    )"#, bounds);
    let store = Store::default();
    let i = Instance::new(&m, &store, &[], &InstanceConfig::default()).unwrap();
    assert_eq!(i.call("fac", &[Val::I64(20)]).unwrap(), vec![Val::I64(2432902008176640000)]);
    assert_eq!(i.call("unreachable", &[]), Err(CallError::Trap(TrapKind::Unreachable)));
    assert_eq!(i.call("oob", &[]), Err(CallError::Trap(TrapKind::MemoryOutOfBounds)));
    assert_eq!(i.call("div", &[Val::I32(1), Val::I32(0)]), Err(CallError::Trap(TrapKind::IntegerDivideByZero)));
    assert_eq!(i.call("div", &[Val::I32(i32::MIN), Val::I32(-1)]), Err(CallError::Trap(TrapKind::IntegerOverflow)));
    assert_eq!(i.call("rec", &[]), Err(CallError::Trap(TrapKind::StackOverflow)));
    assert_eq!(i.call("div", &[Val::I32(7), Val::I32(2)]).unwrap(), vec![Val::I32(3)]);
    }
}
