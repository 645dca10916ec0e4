;; luge-fuzz regression
;; seed: 0
;; found in: guard@baseline (issue 17's first outside run)
;; Below SSSE3 Cranelift calls `__cranelift_x86_pshufb` for swizzles and
;; shuffles; the object failed to load without it.
(module
  (func (export "i8x16.swizzle") (param v128 v128) (result v128)
    local.get 0 local.get 1 i8x16.swizzle)
  (func (export "i8x16.shuffle") (param v128 v128) (result v128)
    local.get 0 local.get 1
    i8x16.shuffle 31 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14))
