/* deriche: Deriche recursive edge-detection filter (horizontal then vertical passes) on a float image. */
#define PB_KERNEL_NAME "deriche"
#include "polybench.h"
#include <math.h>

#if defined(MINI_DATASET)
#define W 64
#define H 64
#elif defined(SMALL_DATASET)
#define W 192
#define H 128
#elif defined(MEDIUM_DATASET)
#define W 720
#define H 480
#elif defined(LARGE_DATASET)
#define W 4096
#define H 2160
#else
#define W 7680
#define H 4320
#endif

static void init_array(int w, int h, float *alpha, float imgIn[W][H]) {
    *alpha = 0.25f;
    /* grayscale pixels in [0, 1] */
    for (int i = 0; i < w; i++)
        for (int j = 0; j < h; j++)
            imgIn[i][j] = (float)((313 * i + 991 * j) % 65536) / 65535.0f;
}

static void kernel_deriche(int w, int h, float alpha, float imgIn[W][H], float imgOut[W][H],
                           float Y1[W][H], float Y2[W][H]) {
    float xm1, tm1, ym1, ym2;
    float xp1, xp2;
    float tp1, tp2;
    float yp1, yp2;
    float k;
    float a1, a2, a3, a4, a5, a6, a7, a8;
    float b1, b2, c1, c2;

    k = (1.0f - expf(-alpha)) * (1.0f - expf(-alpha))
        / (1.0f + 2.0f * alpha * expf(-alpha) - expf(2.0f * alpha));
    a1 = a5 = k;
    a2 = a6 = k * expf(-alpha) * (alpha - 1.0f);
    a3 = a7 = k * expf(-alpha) * (alpha + 1.0f);
    a4 = a8 = -k * expf(-2.0f * alpha);
    b1 = powf(2.0f, -alpha);
    b2 = -expf(-2.0f * alpha);
    c1 = c2 = 1;

    /* causal pass along rows */
    for (int i = 0; i < w; i++) {
        ym1 = 0.0f;
        ym2 = 0.0f;
        xm1 = 0.0f;
        for (int j = 0; j < h; j++) {
            Y1[i][j] = a1 * imgIn[i][j] + a2 * xm1 + b1 * ym1 + b2 * ym2;
            xm1 = imgIn[i][j];
            ym2 = ym1;
            ym1 = Y1[i][j];
        }
    }

    /* anti-causal pass along rows */
    for (int i = 0; i < w; i++) {
        yp1 = 0.0f;
        yp2 = 0.0f;
        xp1 = 0.0f;
        xp2 = 0.0f;
        for (int j = h - 1; j >= 0; j--) {
            Y2[i][j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2;
            xp2 = xp1;
            xp1 = imgIn[i][j];
            yp2 = yp1;
            yp1 = Y2[i][j];
        }
    }

    for (int i = 0; i < w; i++)
        for (int j = 0; j < h; j++)
            imgOut[i][j] = c1 * (Y1[i][j] + Y2[i][j]);

    /* causal pass along columns */
    for (int j = 0; j < h; j++) {
        tm1 = 0.0f;
        ym1 = 0.0f;
        ym2 = 0.0f;
        for (int i = 0; i < w; i++) {
            Y1[i][j] = a5 * imgOut[i][j] + a6 * tm1 + b1 * ym1 + b2 * ym2;
            tm1 = imgOut[i][j];
            ym2 = ym1;
            ym1 = Y1[i][j];
        }
    }

    /* anti-causal pass along columns */
    for (int j = 0; j < h; j++) {
        tp1 = 0.0f;
        tp2 = 0.0f;
        yp1 = 0.0f;
        yp2 = 0.0f;
        for (int i = w - 1; i >= 0; i--) {
            Y2[i][j] = a7 * tp1 + a8 * tp2 + b1 * yp1 + b2 * yp2;
            tp2 = tp1;
            tp1 = imgOut[i][j];
            yp2 = yp1;
            yp1 = Y2[i][j];
        }
    }

    for (int i = 0; i < w; i++)
        for (int j = 0; j < h; j++)
            imgOut[i][j] = c2 * (Y1[i][j] + Y2[i][j]);
}

int main(int argc, char **argv) {
    pb_init(argc, argv);
    float alpha;
    float (*imgIn)[H] = pb_alloc((size_t)W * H, sizeof(float));
    float (*imgOut)[H] = pb_alloc((size_t)W * H, sizeof(float));
    float (*Y1)[H] = pb_alloc((size_t)W * H, sizeof(float));
    float (*Y2)[H] = pb_alloc((size_t)W * H, sizeof(float));

    init_array(W, H, &alpha, imgIn);
    pb_start();
    kernel_deriche(W, H, alpha, imgIn, imgOut, Y1, Y2);
    pb_stop();
    if (pb_dump) {
        /* the harness dumps doubles: widen the float results (exactly) */
        double *out = pb_alloc((size_t)W * H, sizeof(double));
        for (int i = 0; i < W; i++)
            for (int j = 0; j < H; j++)
                out[(size_t)i * H + j] = imgOut[i][j];
        pb_dump_doubles("imgOut", out, (size_t)W * H);
        free(out);
    }

    free(imgIn);
    free(imgOut);
    free(Y1);
    free(Y2);
    return 0;
}
