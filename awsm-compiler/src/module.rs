//! Parsing and validation: turns `.wasm` bytes into a [`ModuleInfo`] (the
//! future descriptor plus the function bodies still to be translated).

use crate::error::CompileError;
use luge_abi::{
    ConstExpr, DataSegment, ElemMode, ElemSegment, Export, ExternKind, FuncType, GlobalType,
    Import, ImportKind, MemoryType, TableType, ValType, WASM_MAX_PAGES,
};
use wasmparser::{
    BinaryReaderError, ExternalKind, FuncToValidate, FunctionBody, Operator, Parser, Payload,
    TypeRef, ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

/// Largest `.wasm` accepted. Bigger inputs are refused up front rather than
/// exhausting memory halfway through translation.
pub const MAX_WASM_SIZE: usize = 256 << 20;

/// The WebAssembly 2.0 feature set: MVP, mutable globals, sign extension,
/// non-trapping float-to-int, multi-value, bulk memory, reference types and
/// fixed-width (128-bit) SIMD. Everything else is refused during validation.
/// (Relaxed SIMD, a 3.0 feature, is not in it.)
pub fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::FLOATS
        | WasmFeatures::SIMD
        | WasmFeatures::GC_TYPES
}

/// A function body waiting for translation, with its validator.
pub struct PendingBody<'a> {
    pub validator: FuncToValidate<ValidatorResources>,
    pub body: FunctionBody<'a>,
}

/// Everything known about a module after parsing.
#[derive(Default)]
pub struct ModuleInfo<'a> {
    pub types: Vec<FuncType>,
    pub imports: Vec<Import>,
    pub funcs: Vec<u32>,
    pub imported_funcs: u32,
    pub tables: Vec<TableType>,
    pub memory: Option<MemoryType>,
    pub globals: Vec<(GlobalType, Option<ConstExpr>)>,
    pub exports: Vec<Export>,
    pub start: Option<u32>,
    pub elements: Vec<ElemSegment>,
    pub data: Vec<DataSegment>,
    pub bodies: Vec<PendingBody<'a>>,
}

fn invalid(e: BinaryReaderError) -> CompileError {
    CompileError::Invalid {
        offset: e.offset(),
        message: crate::error::one_line(e.message()),
    }
}

fn unsupported(offset: usize, what: impl Into<String>) -> CompileError {
    CompileError::Unsupported {
        offset,
        message: what.into(),
    }
}

pub(crate) fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType, CompileError> {
    use wasmparser::ValType as W;
    Ok(match ty {
        W::I32 => ValType::I32,
        W::I64 => ValType::I64,
        W::F32 => ValType::F32,
        W::F64 => ValType::F64,
        W::V128 => ValType::V128,
        W::Ref(r) if r == wasmparser::RefType::FUNCREF => ValType::FuncRef,
        W::Ref(r) if r == wasmparser::RefType::EXTERNREF => ValType::ExternRef,
        other => return Err(unsupported(offset, format!("value type {other:?}"))),
    })
}

fn ref_type(ty: wasmparser::RefType, offset: usize) -> Result<ValType, CompileError> {
    val_type(wasmparser::ValType::Ref(ty), offset)
}

fn table_type(ty: &wasmparser::TableType, offset: usize) -> Result<TableType, CompileError> {
    Ok(TableType {
        elem: ref_type(ty.element_type, offset)?,
        min: ty.initial as u32,
        max: ty.maximum.map(|m| m as u32),
    })
}

fn memory_type(ty: &wasmparser::MemoryType, offset: usize) -> Result<MemoryType, CompileError> {
    if ty.memory64 || ty.shared {
        return Err(unsupported(offset, "64-bit or shared memory"));
    }
    debug_assert!(ty.initial <= WASM_MAX_PAGES);
    Ok(MemoryType {
        min: ty.initial as u32,
        max: ty.maximum.map(|m| m as u32),
    })
}

fn global_type(ty: &wasmparser::GlobalType, offset: usize) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        ty: val_type(ty.content_type, offset)?,
        mutable: ty.mutable,
    })
}

/// Evaluates the shape of a validated constant expression; the validator has
/// already checked types, so only the instruction matters here.
fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut reader = expr.get_operators_reader();
    let offset = reader.original_position();
    let op = reader.read().map_err(invalid)?;
    let value = match op {
        Operator::I32Const { value } => ConstExpr::I32(value),
        Operator::I64Const { value } => ConstExpr::I64(value),
        Operator::F32Const { value } => ConstExpr::F32(value.bits()),
        Operator::F64Const { value } => ConstExpr::F64(value.bits()),
        Operator::V128Const { value } => ConstExpr::V128(value.i128() as u128),
        Operator::RefNull { .. } => ConstExpr::RefNull,
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => {
            return Err(unsupported(
                offset,
                format!("constant expression {other:?}"),
            ))
        }
    };
    match reader.read().map_err(invalid)? {
        Operator::End => Ok(value),
        _ => Err(unsupported(offset, "extended constant expressions")),
    }
}

impl<'a> ModuleInfo<'a> {
    /// Parses and validates `wasm`. Every error names its byte offset.
    pub fn parse(wasm: &'a [u8]) -> Result<ModuleInfo<'a>, CompileError> {
        if wasm.len() > MAX_WASM_SIZE {
            return Err(CompileError::TooLarge {
                size: wasm.len(),
                limit: MAX_WASM_SIZE,
            });
        }
        let mut validator = Validator::new_with_features(features());
        let mut info = ModuleInfo::default();
        // The parser needs the feature set too: it decides how function
        // bodies decode (for example whether a memory index may follow
        // `memory.grow`).
        let mut parser = Parser::new(0);
        parser.set_features(features());
        for payload in parser.parse_all(wasm) {
            let payload = payload.map_err(invalid)?;
            if let ValidPayload::Func(validator, body) =
                validator.payload(&payload).map_err(invalid)?
            {
                info.bodies.push(PendingBody { validator, body });
            }
            info.section(payload)?;
        }
        Ok(info)
    }

    fn section(&mut self, payload: Payload<'a>) -> Result<(), CompileError> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.into_iter_with_offsets() {
                    let (offset, group) = group.map_err(invalid)?;
                    for ty in group.types() {
                        let wasmparser::CompositeInnerType::Func(f) = &ty.composite_type.inner
                        else {
                            return Err(unsupported(offset, "non-function type"));
                        };
                        self.types.push(FuncType {
                            params: f
                                .params()
                                .iter()
                                .map(|t| val_type(*t, offset))
                                .collect::<Result<_, _>>()?,
                            results: f
                                .results()
                                .iter()
                                .map(|t| val_type(*t, offset))
                                .collect::<Result<_, _>>()?,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_iter_with_offsets() {
                    let (offset, import) = import.map_err(invalid)?;
                    self.import(import, offset)?;
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    self.funcs.push(ty.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter_with_offsets() {
                    let (offset, table) = table.map_err(invalid)?;
                    if !matches!(table.init, wasmparser::TableInit::RefNull) {
                        return Err(unsupported(offset, "table initializer expressions"));
                    }
                    self.tables.push(table_type(&table.ty, offset)?);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader.into_iter_with_offsets() {
                    let (offset, memory) = memory.map_err(invalid)?;
                    self.memory = Some(memory_type(&memory, offset)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.into_iter_with_offsets() {
                    let (offset, global) = global.map_err(invalid)?;
                    let ty = global_type(&global.ty, offset)?;
                    self.globals
                        .push((ty, Some(const_expr(&global.init_expr)?)));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    let kind = match export.kind {
                        ExternalKind::Func => ExternKind::Func,
                        ExternalKind::Table => ExternKind::Table,
                        ExternalKind::Memory => ExternKind::Memory,
                        ExternalKind::Global => ExternKind::Global,
                        ExternalKind::Tag => unreachable!("validator rejects tags"),
                    };
                    self.exports.push(Export {
                        name: export.name.to_string(),
                        kind,
                        index: export.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader.into_iter_with_offsets() {
                    let (offset, element) = element.map_err(invalid)?;
                    self.element(element, offset)?;
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(invalid)?;
                    let offset = match data.kind {
                        wasmparser::DataKind::Passive => None,
                        wasmparser::DataKind::Active { offset_expr, .. } => {
                            Some(const_expr(&offset_expr)?)
                        }
                    };
                    self.data.push(DataSegment {
                        offset,
                        bytes: data.data.to_vec(),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn import(
        &mut self,
        import: wasmparser::Import<'a>,
        offset: usize,
    ) -> Result<(), CompileError> {
        let kind = match import.ty {
            TypeRef::Func(ty) => {
                self.funcs.push(ty);
                self.imported_funcs += 1;
                ImportKind::Func(ty)
            }
            TypeRef::Table(ty) => {
                let ty = table_type(&ty, offset)?;
                self.tables.push(ty);
                ImportKind::Table(ty)
            }
            TypeRef::Memory(ty) => {
                let ty = memory_type(&ty, offset)?;
                self.memory = Some(ty);
                ImportKind::Memory(ty)
            }
            TypeRef::Global(ty) => {
                let ty = global_type(&ty, offset)?;
                self.globals.push((ty, None));
                ImportKind::Global(ty)
            }
            TypeRef::Tag(_) => unreachable!("validator rejects tags"),
        };
        self.imports.push(Import {
            module: import.module.to_string(),
            name: import.name.to_string(),
            kind,
        });
        Ok(())
    }

    fn element(
        &mut self,
        element: wasmparser::Element<'a>,
        offset: usize,
    ) -> Result<(), CompileError> {
        let (ty, items) = match element.items {
            wasmparser::ElementItems::Functions(reader) => (
                ValType::FuncRef,
                reader
                    .into_iter()
                    .map(|f| f.map(ConstExpr::RefFunc).map_err(invalid))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            wasmparser::ElementItems::Expressions(ty, reader) => (
                ref_type(ty, offset)?,
                reader
                    .into_iter()
                    .map(|e| const_expr(&e.map_err(invalid)?))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let mode = match element.kind {
            wasmparser::ElementKind::Passive => ElemMode::Passive,
            wasmparser::ElementKind::Declared => ElemMode::Declared,
            wasmparser::ElementKind::Active {
                table_index,
                offset_expr,
            } => ElemMode::Active {
                table: table_index.unwrap_or(0),
                offset: const_expr(&offset_expr)?,
            },
        };
        self.elements.push(ElemSegment { mode, ty, items });
        Ok(())
    }
}
