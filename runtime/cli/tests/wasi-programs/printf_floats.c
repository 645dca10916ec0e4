/*
 * printf_floats: formats a fixed set of doubles (and floats) with many
 * conversions and precisions, and parses numbers with strtod. Only
 * correctly rounded arithmetic is used, so the output is the same on every
 * conforming platform.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const double values[] = {
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5, -2.5, 1.0 / 3.0, 2.0 / 3.0,
    123456.789, -98765.4321, 1e-10, 1.234e-5, 1e-300, 5e-324, 2.2250738585072014e-308,
    1e15, 1e16, 1e21, 1e300, DBL_MAX, 3.141592653589793, 2.718281828459045,
    9.999999, 0.000999999, 99.5, 0.125, 1234567890123456789.0,
};

static const char *const formats[] = {
    "%f", "%.0f", "%.1f", "%.3f", "%.10f", "%.20f",
    "%e", "%.0e", "%.2e", "%.12e", "%E",
    "%g", "%.0g", "%.1g", "%.3g", "%.10g", "%.17g", "%G", "%#g", "%#.3g",
    "%+f", "% e", "%12.4f", "%-14.4e|", "%014.3f", "%+.2e", "%#.0f", "%#.0e",
};

int main(void) {
    size_t nv = sizeof values / sizeof values[0];
    size_t nf = sizeof formats / sizeof formats[0];
    for (size_t i = 0; i < nv; i++) {
        printf("value %zu:", i);
        for (size_t j = 0; j < nf; j++) {
            putchar(' ');
            printf(formats[j], values[i]);
        }
        putchar('\n');
    }

    /* Floats, promoted to double by printf. */
    static const float floats[] = {0.1f, 1.0f / 3.0f, 16777216.0f, 16777217.0f,
                                   -0.0f, 3.4028235e38f, 1.17549435e-38f, 1.4e-45f};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        printf("float %zu: %.9g %f %e %.3g\n", i, floats[i], floats[i], floats[i],
               floats[i]);

    /* Infinities and NaNs from the macros (not computed: the sign of a
     * computed NaN differs between x86 and wasm). */
    printf("inf: %f %e %g %F %5.1f|%-6f|\n", INFINITY, -INFINITY, INFINITY, INFINITY,
           -INFINITY, INFINITY);
    printf("nan: %f %g %F\n", NAN, NAN, NAN);
    printf("signbit(-0.0)=%d, -0.0 == 0.0: %d\n", signbit(-0.0) != 0, -0.0 == 0.0);

    /* Correctly rounded arithmetic: sums, products, quotients, sqrt. */
    double h = 0.0, p = 1.0, q = 1.0;
    for (int k = 1; k <= 1000; k++) {
        h += 1.0 / k;
        p *= 1.0 + 1.0 / (k * 7.0);
        q = q / 3.0 + sqrt((double)k);
    }
    printf("harmonic(1000) = %.17g\nproduct = %.17g\nq = %.17g\n", h, p, q);
    printf("0.1+0.2 = %.17g (== 0.3: %d)\n", 0.1 + 0.2, 0.1 + 0.2 == 0.3);
    printf("1e308*10 = %g, -1e308*10 = %g, DBL_MIN/2 = %.17g\n", 1e308 * 10.0,
           -1e308 * 10.0, DBL_MIN / 2);
    float f = 0.0f;
    for (int k = 0; k < 1000; k++) f += 0.1f;
    printf("float sum = %.9g\n", f);

    /* Parsing. */
    static const char *const inputs[] = {
        "3.14159", "-0", "1e-5", "0x1p-3", "0x1.8p1", "inf", "-Infinity", "1e400",
        "2.2250738585072011e-308", "4.9e-324", "123456789012345678901234567890",
        "  42.5xyz", "0.1e1", ".5", "5.", "1e+2",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *end;
        double v = strtod(inputs[i], &end);
        printf("strtod(\"%s\") = %.17g, rest \"%s\"\n", inputs[i], v, end);
    }
    printf("atof(\"6.02214076e23\") = %.6e\n", atof("6.02214076e23"));
    printf("strtof(\"0.1\") = %.9g\n", strtof("0.1", NULL));
    return 0;
}
