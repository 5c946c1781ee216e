/* Metric primitives, the collector registry and Prometheus text rendering (see metrics.h). */
#include "core/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"

const double metrics_bucket_bounds[METRICS_N_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,
};

/* Bounds in nanoseconds, for observe. */
static const uint64_t bounds_ns[METRICS_N_BUCKETS] = {
    100000,    250000,    500000,     1000000,    2500000,    5000000,
    10000000,  25000000,  50000000,   100000000,  250000000,  500000000,
    1000000000, 2500000000u, 5000000000u, 10000000000u,
};

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns)
{
    size_t i = 0;
    while (i < METRICS_N_BUCKETS && ns > bounds_ns[i])
        i++;
    metric_add(&h->buckets[i], 1);
    metric_add(&h->sum_ns, ns);
}

void metrics_hist_accumulate(struct metrics_hist_sum *sum, const struct metrics_hist *h)
{
    for (size_t i = 0; i <= METRICS_N_BUCKETS; i++)
        sum->buckets[i] += metric_get(&h->buckets[i]);
    sum->sum_ns += metric_get(&h->sum_ns);
}

struct collector {
    metrics_collector_fn *fn;
    void *arg;
};

static struct collector *collectors;
static size_t n_collectors;

void metrics_register(metrics_collector_fn *fn, void *arg)
{
    collectors = xrealloc(collectors, (n_collectors + 1) * sizeof(*collectors));
    collectors[n_collectors].fn = fn;
    collectors[n_collectors].arg = arg;
    n_collectors++;
}

void metrics_clear(void)
{
    free(collectors);
    collectors = NULL;
    n_collectors = 0;
}

void metrics_render(struct buf *out)
{
    for (size_t i = 0; i < n_collectors; i++)
        collectors[i].fn(out, collectors[i].arg);
    metrics_process(out);
}

void metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label_value(struct buf *out, const char *s)
{
    buf_putc(out, '"');
    for (; *s; s++) {
        if (*s == '\\')
            buf_append(out, "\\\\", 2);
        else if (*s == '"')
            buf_append(out, "\\\"", 2);
        else if (*s == '\n')
            buf_append(out, "\\n", 2);
        else
            buf_putc(out, *s);
    }
    buf_putc(out, '"');
}

void metrics_single(struct buf *out, const char *name, const char *type, const char *help,
                    uint64_t value)
{
    metrics_family(out, name, type, help);
    buf_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

void metrics_hist_render(struct buf *out, const char *name, const char *labels,
                         const struct metrics_hist_sum *h)
{
    const char *sep = *labels ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
        cum += h->buckets[i];
        buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                   metrics_bucket_bounds[i], (unsigned long long)cum);
    }
    cum += h->buckets[METRICS_N_BUCKETS];
    buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
               (unsigned long long)cum);
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    buf_printf(out, "%s_sum%s%s%s %.9f\n", name, open, labels, close, (double)h->sum_ns / 1e9);
    buf_printf(out, "%s_count%s%s%s %llu\n", name, open, labels, close, (unsigned long long)cum);
}

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            bt = strtod(line + 6, NULL);
            break;
        }
    }
    fclose(f);
    return bt;
}

void metrics_process(struct buf *out)
{
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    char stat[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        size_t n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
        stat[n] = '\0';
        /* Fields after the command name, which is in parentheses and may contain spaces. */
        char *p = strrchr(stat, ')');
        unsigned long utime = 0, stime = 0, vsize = 0;
        unsigned long long start = 0;
        long rss = 0;
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                        "%*d %*d %llu %lu %ld",
                        &utime, &stime, &start, &vsize, &rss) == 5 && ticks > 0) {
            metrics_family(out, "process_cpu_seconds_total", "counter",
                           "Total user and system CPU time spent in seconds.");
            buf_printf(out, "process_cpu_seconds_total %.2f\n",
                       (double)(utime + stime) / (double)ticks);
            metrics_family(out, "process_virtual_memory_bytes", "gauge",
                           "Virtual memory size in bytes.");
            buf_printf(out, "process_virtual_memory_bytes %lu\n", vsize);
            metrics_family(out, "process_resident_memory_bytes", "gauge",
                           "Resident memory size in bytes.");
            buf_printf(out, "process_resident_memory_bytes %ld\n", rss * page);
            metrics_family(out, "process_start_time_seconds", "gauge",
                           "Start time of the process since unix epoch in seconds.");
            buf_printf(out, "process_start_time_seconds %.2f\n",
                       boot_time() + (double)start / (double)ticks);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        while (readdir(d))
            n++;
        closedir(d);
        metrics_family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
        buf_printf(out, "process_open_fds %ld\n", n > 2 ? n - 3 : 0); /* ., .., the dir itself */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(out, "process_max_fds", "gauge",
                       "Maximum number of open file descriptors.");
        buf_printf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}
