//! What a shared object is checked for before it is loaded: anything that
//! would make the dynamic loader run its code.
//!
//! `dlopen` runs a library's initializers (`DT_INIT`, `DT_INIT_ARRAY`,
//! `DT_PREINIT_ARRAY`), loads the libraries it needs (running theirs), and
//! calls the resolvers of its IFUNC symbols and `IRELATIVE` relocations,
//! all before it returns, so a foreign object would run code before the
//! module descriptor could be checked. An object marked `DF_1_NODELETE` or
//! defining an `STB_GNU_UNIQUE` symbol is never unloaded, and the loader
//! would answer a later `dlopen` of the same name with it instead of the
//! new object (Luge loads every object as `/proc/self/fd/N`); those are
//! refused too. Objects that `awsm-compiler` links
//! have none of these (they are linked with `-nostdlib`), so the loader
//! refuses any object that has one. The check reads the dynamic table as
//! the dynamic loader does: at the address its program header gives, in
//! the loaded segments, up to its DT_NULL entry. What the loader ignores
//! (section headers, the dynamic header's file offset and size) is not
//! trusted, and objects it would read differently from the check (two
//! dynamic headers, loaded segments that share a page) are refused.

use object::elf::{self, FileHeader64, GnuHashHeader, Rela64, Sym64};
use object::read::elf::{Dyn, FileHeader, HashTable, ProgramHeader};
use object::{Endianness, Pod, U32};

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadTimeCode {
    #[error("not a 64-bit ELF shared object: {0}")]
    Malformed(&'static str),
    /// The dynamic loader would run code of the object, or load another
    /// library, on `dlopen`.
    #[error("it would run code as it is loaded ({0}); Luge modules have none")]
    Runs(&'static str),
    /// The dynamic loader would keep it loaded after it is closed, and
    /// hand it out again for a later object loaded under the same name.
    #[error("it would stay loaded after it is unloaded ({0}); Luge modules never do")]
    Stays(&'static str),
}

/// The dynamic tags whose presence makes `dlopen` run or load code.
const REFUSED_TAGS: [(u32, &str); 9] = [
    (elf::DT_NEEDED, "it needs another library"),
    (elf::DT_INIT, "an initializer, DT_INIT"),
    (elf::DT_INIT_ARRAY, "initializers, DT_INIT_ARRAY"),
    (elf::DT_PREINIT_ARRAY, "initializers, DT_PREINIT_ARRAY"),
    (elf::DT_FINI, "a finalizer, DT_FINI"),
    (elf::DT_FINI_ARRAY, "finalizers, DT_FINI_ARRAY"),
    (elf::DT_AUDIT, "an audit library, DT_AUDIT"),
    (elf::DT_AUXILIARY, "a filter library, DT_AUXILIARY"),
    (elf::DT_FILTER, "a filter library, DT_FILTER"),
];

/// The relocation type whose resolver runs at load time, on this host.
#[cfg(target_arch = "x86_64")]
const IRELATIVE: u32 = elf::R_X86_64_IRELATIVE;
#[cfg(target_arch = "aarch64")]
const IRELATIVE: u32 = elf::R_AARCH64_IRELATIVE;

type Header = FileHeader64<Endianness>;

/// Proof that an object passed [`check_no_load_time_code`]: what
/// `sys::library` asks for before it loads one.
#[derive(Debug)]
pub struct NoLoadTimeCode(());

/// Refuses an object (the bytes of a `.so` file) that would run any of its
/// code, or load another library, when `dlopen`ed.
pub fn check_no_load_time_code(data: &[u8]) -> Result<NoLoadTimeCode, LoadTimeCode> {
    check(data).map(|()| NoLoadTimeCode(()))
}

/// The bytes of the dynamic symbol `name` that the object at `data`
/// defines, from its address to the end of the loaded segment that holds
/// it, or `None` when it defines no such symbol. Found through the program
/// headers, as the dynamic loader finds it.
pub fn exported<'data>(data: &'data [u8], name: &str) -> Result<Option<&'data [u8]>, LoadTimeCode> {
    let object = Object::parse(data)?;
    let Some(dynamic) = object.dynamic()? else {
        return Ok(None);
    };
    let tables = DynamicTables::of(dynamic, object.endian);
    let Some(strtab) = tables.strtab else {
        return Ok(None);
    };
    for symbol in object.symbols(&tables)? {
        // What `dlsym` could find: defined, not local, at an address.
        let value = symbol.st_value.get(object.endian);
        if symbol.st_shndx.get(object.endian) == elf::SHN_UNDEF
            || symbol.st_bind() == elf::STB_LOCAL
            || value == 0
        {
            continue;
        }
        let at = strtab.checked_add(symbol.st_name.get(object.endian).into());
        let at = at.ok_or(LoadTimeCode::Malformed("a symbol's name out of range"))?;
        // The name runs from `at` to a NUL, within its segment.
        let named = object
            .bytes_at(at)
            .map_err(|_| LoadTimeCode::Malformed("a symbol's name lies outside its segments"))?;
        if named
            .strip_prefix(name.as_bytes())
            .and_then(|rest| rest.first())
            == Some(&0)
        {
            return object
                .bytes_at(value)
                .map(Some)
                .map_err(|_| LoadTimeCode::Malformed("a symbol lies outside its segments"));
        }
    }
    Ok(None)
}

fn check(data: &[u8]) -> Result<(), LoadTimeCode> {
    let object = Object::parse(data)?;
    let endian = object.endian;
    let Some(dynamic) = object.dynamic()? else {
        // Nothing for the dynamic loader to act on.
        return Ok(());
    };
    for entry in dynamic {
        let Some(tag) = entry.tag32(endian) else {
            continue;
        };
        if let Some(&(_, what)) = REFUSED_TAGS.iter().find(|&&(t, _)| t == tag) {
            return Err(LoadTimeCode::Runs(what));
        }
        if tag == elf::DT_FLAGS_1 && entry.d_val(endian) & u64::from(elf::DF_1_NODELETE) != 0 {
            return Err(LoadTimeCode::Stays("DF_1_NODELETE"));
        }
    }
    let tables = DynamicTables::of(dynamic, endian);
    if tables.rel.is_some() {
        return Err(LoadTimeCode::Malformed(
            "REL relocations, which 64-bit objects do not use",
        ));
    }
    object.check_symbols(&tables)?;
    object.check_relocations(&tables, tables.rela, tables.rela_size)?;
    object.check_relocations(&tables, tables.jmprel, tables.jmprel_size)
}

/// The addresses and sizes the dynamic segment gives for the tables the
/// check reads.
#[derive(Default)]
struct DynamicTables {
    symtab: Option<u64>,
    strtab: Option<u64>,
    hash: Option<u64>,
    gnu_hash: Option<u64>,
    rela: Option<u64>,
    rela_size: u64,
    jmprel: Option<u64>,
    jmprel_size: u64,
    rel: Option<u64>,
}

impl DynamicTables {
    /// What the entries of `dynamic` say of the tables.
    fn of(dynamic: &[<Header as FileHeader>::Dyn], endian: Endianness) -> DynamicTables {
        let mut tables = DynamicTables::default();
        for entry in dynamic {
            if let Some(tag) = entry.tag32(endian) {
                tables.note(tag, entry.d_val(endian));
            }
        }
        tables
    }

    fn note(&mut self, tag: u32, value: u64) {
        match tag {
            elf::DT_SYMTAB => self.symtab = Some(value),
            elf::DT_STRTAB => self.strtab = Some(value),
            elf::DT_HASH => self.hash = Some(value),
            elf::DT_GNU_HASH => self.gnu_hash = Some(value),
            elf::DT_RELA => self.rela = Some(value),
            elf::DT_RELASZ => self.rela_size = value,
            elf::DT_JMPREL => self.jmprel = Some(value),
            elf::DT_PLTRELSZ => self.jmprel_size = value,
            elf::DT_REL => self.rel = Some(value),
            _ => {}
        }
    }
}

struct Object<'data> {
    data: &'data [u8],
    endian: Endianness,
    segments: &'data [<Header as FileHeader>::ProgramHeader],
}

impl<'data> Object<'data> {
    fn parse(data: &'data [u8]) -> Result<Object<'data>, LoadTimeCode> {
        let malformed = |_| LoadTimeCode::Malformed("cannot read its ELF header");
        let header = Header::parse(data).map_err(malformed)?;
        let endian = header.endian().map_err(malformed)?;
        let object = Object {
            data,
            endian,
            segments: header
                .program_headers(endian, data)
                .map_err(|_| LoadTimeCode::Malformed("cannot read its program headers"))?,
        };
        object.check_segments_apart()?;
        Ok(object)
    }

    /// The dynamic table as the dynamic loader reads it: at the address
    /// its PT_DYNAMIC header gives, in the loaded segments, up to its
    /// DT_NULL entry. The loader ignores the header's file offset and size
    /// and keeps the last of several such headers, so a table found any
    /// other way could differ from the one it acts on.
    fn dynamic(&self) -> Result<Option<&'data [<Header as FileHeader>::Dyn]>, LoadTimeCode> {
        let mut headers = self
            .segments
            .iter()
            .filter(|s| s.p_type(self.endian) == elf::PT_DYNAMIC);
        let Some(header) = headers.next() else {
            return Ok(None);
        };
        if headers.next().is_some() {
            return Err(LoadTimeCode::Malformed(
                "two dynamic segments, of which the loader would read the last",
            ));
        }
        let bytes = self.bytes_at(header.p_vaddr(self.endian)).map_err(|_| {
            LoadTimeCode::Malformed("its dynamic table lies outside its loaded segments")
        })?;
        let whole = bytes.len() / std::mem::size_of::<<Header as FileHeader>::Dyn>();
        let (entries, _) = object::pod::slice_from_bytes(bytes, whole)
            .map_err(|()| LoadTimeCode::Malformed("its dynamic table is misaligned"))?;
        let entries: &[<Header as FileHeader>::Dyn] = entries;
        let end = entries
            .iter()
            .position(|entry| entry.d_tag(self.endian) == u64::from(elf::DT_NULL))
            .ok_or(LoadTimeCode::Malformed(
                "its dynamic table does not end (DT_NULL) within its segment",
            ))?;
        Ok(Some(&entries[..end]))
    }

    /// Refuses loaded segments that share a page: the loader maps each one
    /// over those before it, so a later segment's bytes would stand where
    /// [`Object::bytes_at`] reads an earlier one's.
    fn check_segments_apart(&self) -> Result<(), LoadTimeCode> {
        let page = luge_region::page_size() as u64;
        let mut spans = self
            .segments
            .iter()
            .filter(|s| s.p_type(self.endian) == elf::PT_LOAD)
            .map(|s| {
                let start = s.p_vaddr(self.endian);
                let end = start.checked_add(s.p_memsz(self.endian))?;
                Some((start / page, end.div_ceil(page)))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(LoadTimeCode::Malformed(
                "a loaded segment runs past the end of the address space",
            ))?;
        spans.sort_unstable();
        if spans.windows(2).any(|pair| pair[0].1 > pair[1].0) {
            return Err(LoadTimeCode::Malformed("loaded segments that share a page"));
        }
        Ok(())
    }

    /// The file's bytes from virtual address `address` to the end of the
    /// loaded segment that holds it.
    fn bytes_at(&self, address: u64) -> Result<&'data [u8], LoadTimeCode> {
        self.segments
            .iter()
            .filter(|s| s.p_type(self.endian) == elf::PT_LOAD)
            .find_map(|s| {
                let start = s.p_vaddr(self.endian);
                let len = s.p_filesz(self.endian);
                let offset = address.checked_sub(start).filter(|&o| o < len)?;
                s.data_range(self.endian, self.data, address, len - offset)
                    .ok()
                    .flatten()
            })
            .ok_or(LoadTimeCode::Malformed(
                "a dynamic table lies outside its segments",
            ))
    }

    fn array<T: Pod>(&self, address: u64, count: u64) -> Result<&'data [T], LoadTimeCode> {
        let count = usize::try_from(count).map_err(|_| LoadTimeCode::Malformed("a huge table"))?;
        object::pod::slice_from_bytes(self.bytes_at(address)?, count)
            .map(|(items, _)| items)
            .map_err(|()| LoadTimeCode::Malformed("a dynamic table runs past its segment"))
    }

    /// Refuses IFUNC symbols defined in the object: resolving one (for a
    /// relocation, or for `dlsym`) calls its resolver.
    fn check_symbols(&self, tables: &DynamicTables) -> Result<(), LoadTimeCode> {
        self.symbols(tables)?
            .iter()
            .try_for_each(|s| self.check_symbol(s))
    }

    /// The dynamic symbols, as many as the hash table counts.
    fn symbols(&self, tables: &DynamicTables) -> Result<&'data [Sym64<Endianness>], LoadTimeCode> {
        let Some(symtab) = tables.symtab else {
            return Ok(&[]);
        };
        let count = match (tables.gnu_hash, tables.hash) {
            (Some(address), _) => gnu_hash_symbol_count(self.bytes_at(address)?, self.endian),
            (None, Some(address)) => {
                HashTable::<Header>::parse(self.endian, self.bytes_at(address)?)
                    .ok()
                    .map(|table| table.symbol_table_length())
            }
            (None, None) => None,
        }
        .ok_or(LoadTimeCode::Malformed("no readable symbol hash table"))?;
        self.array(symtab, count.into())
    }

    fn check_symbol(&self, symbol: &Sym64<Endianness>) -> Result<(), LoadTimeCode> {
        let defined = symbol.st_shndx.get(self.endian) != elf::SHN_UNDEF;
        if defined && symbol.st_type() == elf::STT_GNU_IFUNC {
            return Err(LoadTimeCode::Runs("an IFUNC symbol's resolver"));
        }
        if symbol.st_bind() == elf::STB_GNU_UNIQUE {
            return Err(LoadTimeCode::Stays("a unique symbol, STB_GNU_UNIQUE"));
        }
        Ok(())
    }

    /// Refuses `IRELATIVE` relocations, whose resolvers run at load time,
    /// and relocations against IFUNC symbols of the object (which may lie
    /// outside what the hash table counts).
    fn check_relocations(
        &self,
        tables: &DynamicTables,
        table: Option<u64>,
        size: u64,
    ) -> Result<(), LoadTimeCode> {
        let Some(address) = table else {
            return Ok(());
        };
        let entry = std::mem::size_of::<Rela64<Endianness>>() as u64;
        let relocations: &[Rela64<Endianness>] = self.array(address, size / entry)?;
        for relocation in relocations {
            if relocation.r_type(self.endian, false) == IRELATIVE {
                return Err(LoadTimeCode::Runs("an IRELATIVE relocation's resolver"));
            }
            let index = relocation.r_sym(self.endian, false);
            if index != 0 {
                let symtab = tables.symtab.ok_or(LoadTimeCode::Malformed(
                    "a relocation names a symbol but there is no symbol table",
                ))?;
                let entry = std::mem::size_of::<Sym64<Endianness>>() as u64;
                let address = symtab.checked_add(u64::from(index) * entry);
                let address =
                    address.ok_or(LoadTimeCode::Malformed("a symbol index out of range"))?;
                let symbol: &[Sym64<Endianness>] = self.array(address, 1)?;
                self.check_symbol(&symbol[0])?;
            }
        }
        Ok(())
    }
}

/// The number of dynamic symbols a GNU hash table covers: the symbols
/// below its base, which it does not hash, and its chains up to the end of
/// the longest one.
fn gnu_hash_symbol_count(bytes: &[u8], endian: Endianness) -> Option<u32> {
    let (header, rest) = object::pod::from_bytes::<GnuHashHeader<Endianness>>(bytes).ok()?;
    let base = header.symbol_base.get(endian);
    let bloom_bytes = usize::try_from(header.bloom_count.get(endian)).ok()? * 8;
    let buckets = usize::try_from(header.bucket_count.get(endian)).ok()?;
    let (buckets, chains) =
        object::pod::slice_from_bytes::<U32<Endianness>>(rest.get(bloom_bytes..)?, buckets).ok()?;
    let last_chain = buckets.iter().map(|b| b.get(endian)).max().unwrap_or(0);
    if last_chain < base {
        // No symbol is hashed.
        return Some(base);
    }
    // The chains run on to the end of the table, which `bytes` does not
    // mark: take every whole entry up to the end of the segment.
    let whole = chains.len() / std::mem::size_of::<U32<Endianness>>();
    let (chains, _) = object::pod::slice_from_bytes::<U32<Endianness>>(chains, whole).ok()?;
    let start = usize::try_from(last_chain - base).ok()?;
    let end = chains
        .get(start..)?
        .iter()
        .position(|c| c.get(endian) & 1 != 0)?;
    u32::try_from(start + end + 1).ok()?.checked_add(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_elf_are_refused() {
        assert!(matches!(
            check(b"\x7fELF but not really"),
            Err(LoadTimeCode::Malformed(_))
        ));
        assert!(matches!(check(&[]), Err(LoadTimeCode::Malformed(_))));
    }

    /// A GNU hash table: `base` unhashed symbols, then buckets `buckets`,
    /// then `chains`, then `padding` stray bytes up to the segment's end.
    fn gnu_hash(base: u32, buckets: &[u32], chains: &[u32], padding: usize) -> Vec<u8> {
        let mut table = Vec::new();
        for word in [buckets.len() as u32, base, 1, 6] {
            table.extend_from_slice(&word.to_le_bytes());
        }
        table.extend_from_slice(&[0xff; 8]);
        for word in buckets.iter().chain(chains) {
            table.extend_from_slice(&word.to_le_bytes());
        }
        table.resize(table.len() + padding, 0xab);
        table
    }

    #[test]
    fn gnu_hash_tables_count_their_symbols_whatever_follows_them() {
        let le = Endianness::Little;
        // Symbols 2, 3 and 4 are hashed; chain ends are odd.
        for padding in 0..4 {
            let table = gnu_hash(2, &[0, 2, 3], &[11, 20, 31], padding);
            assert_eq!(gnu_hash_symbol_count(&table, le), Some(5), "{padding}");
        }
        // Nothing hashed: only the symbols below the base.
        assert_eq!(
            gnu_hash_symbol_count(&gnu_hash(3, &[0, 0], &[], 1), le),
            Some(3)
        );
        // A chain that never ends is malformed.
        assert_eq!(
            gnu_hash_symbol_count(&gnu_hash(1, &[1], &[2, 4], 0), le),
            None
        );
    }

    #[test]
    fn this_test_binary_is_refused() {
        // A Rust executable has initializers and needs libc: whatever the
        // loader would do with it, the check names a reason to refuse.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(matches!(check(&me), Err(LoadTimeCode::Runs(_))));
    }
}
