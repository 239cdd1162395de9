/*
 * stream.c - `elmo embed --stream`: lines `id<TAB>text` (or JSON objects {"id":..,
 * "text":..}) on stdin, lines `id<TAB>vector` on stdout in input order, one per input line:
 * the contract of Spark's RDD.pipe, Hadoop Streaming and GNU parallel --pipe.
 *
 * Lines are gathered into batches (--batch lines, or fewer when no more input arrives
 * within --wait-ms, or at EOF), embedded with the extension's elmo_batch on an in-memory
 * database, written and flushed. A batch that fails is embedded line by line with
 * elmo_embed, so only the bad lines get `id<TAB>ERROR: message`.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { INPUT_AUTO, INPUT_TSV, INPUT_JSON };

typedef struct item {
    char *id;     /* as written back */
    char *text;   /* NULL: no text (JSON null) -> no vector */
    char *error;  /* set when the line or its embedding failed */
    void *vector; /* float32 bytes, NULL for no vector */
    int bytes;
} item;

typedef struct stream_job {
    const char *model, *options, *precision;
    int base64, input, batch, wait_ms, fail;
    long long max_tokens, max_text_bytes; /* 0: the extension's defaults */
    sqlite3 *db;
    sqlite3_stmt *insert, *clear, *embed_batch, *embed_one, *json;
    long long line_no;
} stream_job;

/* ---- reading lines from fd 0 with a timeout ------------------------------------------ */

typedef struct reader {
    char *buf;
    size_t len, pos, cap;
    int eof;
} reader;

/* 1: a line in [*line, *line + *n) (without its \n); 0: end of input; -1: no complete line
 * within timeout_ms (< 0: wait forever); -2: read error or signal. */
static int next_line(reader *r, char **line, size_t *n, int timeout_ms) {
    for (;;) {
        char *nl = r->len > r->pos ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl) {
            *line = r->buf + r->pos;
            *n = (size_t)(nl - *line);
            r->pos = (size_t)(nl - r->buf) + 1;
            return 1;
        }
        if (r->eof) {
            if (r->pos == r->len) return 0;
            *line = r->buf + r->pos; /* a last line without \n */
            *n = r->len - r->pos;
            r->pos = r->len;
            return 1;
        }
        if (r->pos > 0) { /* keep the partial line at the start */
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 1 << 20;
            char *b = realloc(r->buf, cap);
            if (!b) return -2;
            r->buf = b;
            r->cap = cap;
        }
        /* Waits in slices: a signal may be delivered to another thread (the engine's
         * workers), which leaves this poll asleep; the slices notice its flag. */
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int pr = 0;
        for (int waited = 0; pr == 0 && (timeout_ms < 0 || waited < timeout_ms || !waited);
             waited += 100) {
            if (cli_signal_received()) return -2;
            int slice = timeout_ms < 0 || timeout_ms - waited > 100 ? 100 : timeout_ms - waited;
            pr = poll(&pfd, 1, slice);
            if (pr < 0 && errno == EINTR) pr = 0;
        }
        if (pr == 0) return -1;
        if (pr < 0) return -2;
        ssize_t got = read(0, r->buf + r->len, r->cap - r->len);
        if (got < 0) {
            if (errno == EINTR && !cli_signal_received()) continue;
            return -2;
        }
        if (got == 0) r->eof = 1;
        r->len += (size_t)got;
    }
}

/* ---- parsing one line ---------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    char *d = s ? dup_n(s, strlen(s)) : NULL;
    sqlite3_free(s);
    return d;
}

/* The output form of a JSON id: a string as is (as JSON when it holds a tab or a line
 * break, which TSV cannot carry), a number as an integer when it is one. */
static char *json_id(const cJSON *id) {
    if (cJSON_IsString(id)) {
        if (!strpbrk(id->valuestring, "\t\r\n"))
            return dup_n(id->valuestring, strlen(id->valuestring));
        return cJSON_PrintUnformatted(id);
    }
    double v = id->valuedouble;
    if (v == floor(v) && fabs(v) < 9007199254740992.0) return dup_printf("%lld", (long long)v);
    return dup_printf("%.17g", v);
}

static void parse_json(item *it, const char *line, size_t n, long long line_no) {
    cJSON *root = cJSON_ParseWithLength(line, n);
    const cJSON *id = root ? cJSON_GetObjectItemCaseSensitive(root, "id") : NULL;
    const cJSON *text = root ? cJSON_GetObjectItemCaseSensitive(root, "text") : NULL;
    if (!cJSON_IsObject(root)) {
        it->id = dup_n("", 0);
        it->error = dup_printf(
            "line %lld is not a JSON object; expected {\"id\": ..., \"text\": ...}", line_no);
    } else if (!cJSON_IsString(id) && !cJSON_IsNumber(id)) {
        it->id = dup_n("", 0);
        it->error = dup_printf("line %lld has no \"id\" string or number", line_no);
    } else {
        it->id = json_id(id);
        if (cJSON_IsString(text)) it->text = dup_n(text->valuestring, strlen(text->valuestring));
        else if (!cJSON_IsNull(text))
            it->error = dup_printf("line %lld: \"text\" must be a string or null", line_no);
    }
    cJSON_Delete(root);
}

static void parse_line(stream_job *s, item *it, const char *line, size_t n) {
    if (n > 0 && line[n - 1] == '\r') n--; /* CRLF input */
    size_t lead = 0;
    while (lead < n && (line[lead] == ' ' || line[lead] == '\t')) lead++;
    if (s->input == INPUT_JSON || (s->input == INPUT_AUTO && lead < n && line[lead] == '{')) {
        parse_json(it, line, n, s->line_no);
        return;
    }
    const char *tab = memchr(line, '\t', n);
    if (!tab) {
        it->id = dup_n(line, n);
        it->error = n ? dup_printf("line %lld has no tab; expected id<TAB>text", s->line_no)
                      : dup_printf("line %lld is empty; expected id<TAB>text", s->line_no);
        return;
    }
    it->id = dup_n(line, (size_t)(tab - line));
    it->text = dup_n(tab + 1, n - (size_t)(tab - line) - 1);
}

/* ---- embedding and writing a batch --------------------------------------------------- */

static void bind_opts(stream_job *s, sqlite3_stmt *st, int k) {
    if (s->options) sqlite3_bind_text(st, k, s->options, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, k);
}

static void take_vector(item *it, sqlite3_value *v) {
    if (sqlite3_value_type(v) != SQLITE_BLOB) return;
    it->bytes = sqlite3_value_bytes(v);
    it->vector = malloc((size_t)it->bytes + 1);
    if (it->vector) memcpy(it->vector, sqlite3_value_blob(v), (size_t)it->bytes);
    else it->error = dup_n("out of memory", 13);
}

/* Fills the items' vectors (or errors). Returns an SQLite code for a failure that is not
 * any one line's (e.g. an interrupt). */
static int embed(stream_job *s, item *items, int n) {
    int rc = sqlite3_step(s->clear) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
    sqlite3_reset(s->clear);
    for (int k = 0; rc == SQLITE_OK && k < n; k++) {
        if (items[k].error) continue;
        sqlite3_bind_int(s->insert, 1, k);
        if (items[k].text) sqlite3_bind_text(s->insert, 2, items[k].text, -1, SQLITE_STATIC);
        else sqlite3_bind_null(s->insert, 2);
        rc = sqlite3_step(s->insert) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
        sqlite3_reset(s->insert);
    }
    if (rc != SQLITE_OK) return rc;
    bind_opts(s, s->embed_batch, 1);
    while ((rc = sqlite3_step(s->embed_batch)) == SQLITE_ROW)
        take_vector(&items[sqlite3_column_int(s->embed_batch, 0)],
                    sqlite3_column_value(s->embed_batch, 1));
    sqlite3_reset(s->embed_batch);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (cli_signal_received()) return SQLITE_INTERRUPT;
    /* One bad line fails the batch: embed line by line to find it. */
    for (int k = 0; k < n; k++) {
        free(items[k].vector);
        items[k].vector = NULL;
        if (items[k].error) continue;
        bind_opts(s, s->embed_one, 2);
        if (items[k].text) sqlite3_bind_text(s->embed_one, 1, items[k].text, -1, SQLITE_STATIC);
        else sqlite3_bind_null(s->embed_one, 1);
        rc = sqlite3_step(s->embed_one);
        if (rc == SQLITE_ROW) take_vector(&items[k], sqlite3_column_value(s->embed_one, 0));
        else if (cli_signal_received()) rc = SQLITE_INTERRUPT;
        else {
            char *msg = cli_message(sqlite3_errmsg(s->db), NULL);
            items[k].error = msg ? dup_n(msg, strlen(msg)) : NULL;
            sqlite3_free(msg);
        }
        sqlite3_reset(s->embed_one);
        if (rc == SQLITE_INTERRUPT) return rc;
    }
    return SQLITE_OK;
}

static void put_base64(const unsigned char *p, int n) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[0] = abc[v >> 18 & 63];
        out[1] = abc[v >> 12 & 63];
        out[2] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        out[3] = i + 2 < n ? abc[v & 63] : '=';
        fwrite(out, 1, 4, stdout);
    }
}

/* Writes the batch's lines; returns the index of the first error with --on-error=fail
 * (its line not written), else -1. */
static int write_batch(stream_job *s, item *items, int n) {
    for (int k = 0; k < n; k++) {
        item *it = &items[k];
        if (it->error && s->fail) return k;
        fputs(it->id, stdout);
        fputc('\t', stdout);
        if (it->error) {
            fputs("ERROR: ", stdout);
            for (const char *c = it->error; *c; c++)
                fputc(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' : *c, stdout);
        } else if (!it->vector) {
            if (!s->base64) fputs("null", stdout);
        } else if (s->base64) {
            put_base64(it->vector, it->bytes);
        } else {
            sqlite3_bind_blob(s->json, 1, it->vector, it->bytes, SQLITE_STATIC);
            if (sqlite3_step(s->json) == SQLITE_ROW)
                fputs((const char *)sqlite3_column_text(s->json, 0), stdout);
            sqlite3_reset(s->json);
        }
        fputc('\n', stdout);
    }
    fflush(stdout);
    return -1;
}

static void free_items(item *items, int n) {
    for (int k = 0; k < n; k++) {
        free(items[k].id);
        free(items[k].text);
        free(items[k].error);
        free(items[k].vector);
    }
    memset(items, 0, sizeof(item) * (size_t)n);
}

/* ---- flags and the main loop --------------------------------------------------------- */

/* A number from lo to 100000; 0 on success. */
static int parse_count(const char *flag, const char *v, int lo, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > 100000) {
        cli_error("%s must be a number from %d to 100000, got '%s'", flag, lo, v);
        return 1;
    }
    *out = (int)x;
    return 0;
}

static int parse_flags(stream_job *s, int argc, char **argv) {
    memset(s, 0, sizeof *s);
    s->batch = 64;
    s->wait_ms = 50;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int m;
        if (!strcmp(a, "--stream")) continue;
        if ((m = cli_flag_value(argc, argv, &i, "--model", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            s->model = v;
        } else if ((m = cli_flag_value(argc, argv, &i, "--options", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            s->options = v;
        } else if ((m = cli_flag_value(argc, argv, &i, "--precision", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (strcmp(v, "fp32") && strcmp(v, "bf16") && strcmp(v, "auto")) {
                cli_error("--precision must be fp32, bf16 or auto, got '%s'", v);
                return EXIT_USAGE;
            }
            s->precision = v;
        } else if ((m = cli_flag_value(argc, argv, &i, "--format", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (!strcmp(v, "json")) s->base64 = 0;
            else if (!strcmp(v, "base64")) s->base64 = 1;
            else {
                cli_error("--format must be json or base64, got '%s'", v);
                return EXIT_USAGE;
            }
        } else if ((m = cli_flag_value(argc, argv, &i, "--input", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (!strcmp(v, "auto")) s->input = INPUT_AUTO;
            else if (!strcmp(v, "tsv")) s->input = INPUT_TSV;
            else if (!strcmp(v, "json")) s->input = INPUT_JSON;
            else {
                cli_error("--input must be auto, tsv or json, got '%s'", v);
                return EXIT_USAGE;
            }
        } else if ((m = cli_flag_value(argc, argv, &i, "--on-error", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (!strcmp(v, "fail")) s->fail = 1;
            else if (strcmp(v, "skip")) {
                cli_error("--on-error must be 'skip' or 'fail', got '%s'", v);
                return EXIT_USAGE;
            }
        } else if ((m = cli_flag_value(argc, argv, &i, "--batch", &v)) != 0) {
            if (m < 0 || parse_count("--batch", v, 1, &s->batch)) return EXIT_USAGE;
        } else if ((m = cli_flag_value(argc, argv, &i, "--wait-ms", &v)) != 0) {
            if (m < 0 || parse_count("--wait-ms", v, 0, &s->wait_ms)) return EXIT_USAGE;
        } else if ((m = cli_flag_value(argc, argv, &i, "--max-tokens", &v)) != 0) {
            if (m < 0 || !cli_parse_number("--max-tokens", v, 1, 2147483647, &s->max_tokens))
                return EXIT_USAGE;
        } else if ((m = cli_flag_value(argc, argv, &i, "--max-text-bytes", &v)) != 0) {
            if (m < 0 ||
                !cli_parse_number("--max-text-bytes", v, 1, 2147483647, &s->max_text_bytes))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            /* stream mode prints nothing but errors anyway */
        } else {
            cli_error("%s '%s' in --stream mode (see elmo embed --help)",
                      a[0] == '-' ? "unknown flag" : "unexpected argument", a);
            return EXIT_USAGE;
        }
    }
    return EXIT_DONE;
}

static int setup(stream_job *s) {
    int code = cli_open(":memory:", 0, &s->db);
    if (code != EXIT_DONE) return code;
    cli_model model = {s->model, s->precision, NULL, NULL};
    code = cli_load_model(s->db, &model, "SELECT elmo_embed('probe', ?1)", s->options);
    if (code == EXIT_DONE) code = cli_set_limits(s->db, s->max_tokens, s->max_text_bytes);
    if (code != EXIT_DONE) return code;
    int rc = sqlite3_exec(s->db, "CREATE TABLE lines(seq INTEGER PRIMARY KEY, body TEXT)", NULL,
                          NULL, NULL);
    const char *sql[] = {
        "INSERT INTO lines(seq, body) VALUES (?1, ?2)",
        "DELETE FROM lines",
        "SELECT id, vector FROM elmo_batch('SELECT seq, body FROM lines ORDER BY seq', ?1)",
        "SELECT elmo_embed(?1, ?2)",
        "SELECT elmo_json(?1)",
    };
    sqlite3_stmt **dest[] = {&s->insert, &s->clear, &s->embed_batch, &s->embed_one, &s->json};
    for (int k = 0; rc == SQLITE_OK && k < 5; k++)
        rc = sqlite3_prepare_v2(s->db, sql[k], -1, dest[k], NULL);
    if (rc != SQLITE_OK) {
        cli_error("cannot prepare: %s", sqlite3_errmsg(s->db));
        return EXIT_ERROR;
    }
    return EXIT_DONE;
}

int cmd_stream(int argc, char **argv) {
    stream_job s;
    int code = parse_flags(&s, argc, argv);
    if (code != EXIT_DONE) {
        fputs("usage: elmo embed --stream [--model PATH] [--format json|base64] [--input "
              "auto|tsv|json] [--options JSON] [--batch N]; see elmo embed --help\n",
              stderr);
        return code;
    }
    cli_signals_install(NULL);
    code = setup(&s);
    reader r = {0};
    item *items = code == EXIT_DONE ? calloc((size_t)s.batch, sizeof(item)) : NULL;
    if (code == EXIT_DONE && !items) code = EXIT_ERROR;
    if (code == EXIT_DONE) cli_signals_db(s.db);
    int n = 0, done = 0;
    while (code == EXIT_DONE && !done) {
        char *line;
        size_t len;
        int got = next_line(&r, &line, &len, n > 0 ? s.wait_ms : -1);
        if (got == 1) {
            s.line_no++;
            parse_line(&s, &items[n++], line, len);
        } else if (got == 0) {
            done = 1;
        } else if (got == -2) {
            if (!cli_signal_received()) cli_error("cannot read stdin: %s", strerror(errno));
            code = EXIT_ERROR;
            break;
        }
        if (n > 0 && (n == s.batch || got != 1)) {
            int rc = embed(&s, items, n);
            if (rc != SQLITE_OK) {
                if (!cli_signal_received()) cli_error("cannot embed: %s", sqlite3_errmsg(s.db));
                code = EXIT_ERROR;
                break;
            }
            int bad = write_batch(&s, items, n);
            if (bad >= 0) {
                cli_error("line %lld (id %s) failed: %s", s.line_no - n + 1 + bad, items[bad].id,
                          items[bad].error);
                code = EXIT_ROW_FAILED;
            }
            free_items(items, n);
            n = 0;
        }
    }
    fflush(stdout);
    if (items) free_items(items, n);
    free(items);
    free(r.buf);
    cli_signals_db(NULL);
    sqlite3_stmt *all[] = {s.insert, s.clear, s.embed_batch, s.embed_one, s.json};
    for (int k = 0; k < 5; k++) sqlite3_finalize(all[k]);
    sqlite3_close(s.db);
    if (cli_signal_received()) return cli_signal_exit_code(cli_signal_received());
    return code;
}
