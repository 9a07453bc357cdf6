/*
 * Drives a command through a pseudo-terminal, as a person at a keyboard
 * would, following a script of steps; the console tests (tests/console, *.pty)
 * run parlua's prompt with it. Only glibc (forkpty), so that a fresh Debian
 * machine runs the tests without Python or expect.
 *
 *   pty-driver PARLUA SCRIPT
 *
 * Each line of SCRIPT is one step ('#' starts a comment line):
 *   env NAME=VALUE    set a variable for the command (before run)
 *   run ARGS...       start the command: words split on spaces, the word
 *                     PARLUA is the path given on the command line
 *   timeout SECONDS   how long each later expect may wait (default 60)
 *   send TEXT         type TEXT and Return; \n \t \\ and \xHH are escapes
 *   sendraw TEXT      type TEXT without Return (e.g. \x03 for Ctrl-C)
 *   expect ERE        wait until the output since the last match matches
 *                     ERE (POSIX extended; \n \t \r \xHH as in send, other
 *                     backslashes are the regex's); the match is consumed. The
 *                     output is searched without terminal escape
 *                     sequences, and \r reads as a line end
 *   sleep SECONDS     wait
 *   signal NUMBER     send the command a signal (15: SIGTERM)
 *   exit STATUS       wait for the command to exit with STATUS
 * A step that fails prints what the command wrote and exits 1.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int master = -1;
static pid_t child = -1;
static char *out;               /* everything the command wrote, cleaned */
static size_t out_len, out_cap; /* bytes in out */
static size_t consumed;         /* matched so far */
static int esc_state;           /* inside an escape sequence: 1 after ESC, 2 in CSI */
static int after_cr;            /* the last byte was \r */
static const char *script_path;
static int lineno;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, const char *what)
{
    fprintf(stderr, "pty-driver: %s:%d: ", script_path, lineno);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n--- output so far (cleaned; '|' marks the last match)\n");
    fwrite(out, 1, consumed, stderr);
    fputs("|", stderr);
    fwrite(out + consumed, 1, out_len - consumed, stderr);
    fputs("\n---\n", stderr);
    if (child > 0) kill(child, SIGKILL);
    exit(1);
}

/* Appends what the command wrote, without escape sequences, \r as a line end. */
static void take(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (esc_state == 1) {
            esc_state = c == '[' ? 2 : 0;
            continue;
        }
        if (esc_state == 2) {
            if (c >= 0x40 && c <= 0x7e) esc_state = 0;
            continue;
        }
        if (c == 0x1b) {
            esc_state = 1;
            continue;
        }
        if (c == '\a') continue;
        if (after_cr && c == '\n') { /* \r\n: one line end */
            after_cr = 0;
            continue;
        }
        after_cr = c == '\r';
        if (c == '\r') c = '\n'; /* a line redrawn: a line end too */
        if (out_len + 2 > out_cap) {
            out_cap = out_cap ? out_cap * 2 : 65536;
            out = realloc(out, out_cap);
            if (!out) abort();
        }
        out[out_len++] = (char)c;
        out[out_len] = '\0';
    }
}

/* Reads what is there within ms milliseconds; returns 0 at end of output. */
static int pump(int ms)
{
    struct pollfd p = {master, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r <= 0) return 1;
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
        take(buf, (size_t)n);
        return 1;
    }
    return n < 0 && errno == EINTR; /* EIO: the command closed the terminal */
}

/* Decodes the escapes of a send step into dst; returns the length. */
static size_t unescape(const char *s, char *dst, int regex)
{
    size_t n = 0;
    while (*s) {
        if (*s != '\\' || !s[1]) {
            dst[n++] = *s++;
            continue;
        }
        s++;
        if (*s == 'n')
            dst[n++] = '\n', s++;
        else if (*s == 't')
            dst[n++] = '\t', s++;
        else if (*s == 'r')
            dst[n++] = '\r', s++;
        else if (*s == 'x' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            dst[n++] = (char)strtol(hex, NULL, 16);
            s += 3;
        } else if (regex) {
            dst[n++] = '\\'; /* the regex's own escape: kept */
            dst[n++] = *s++;
        } else {
            dst[n++] = *s++;
        }
    }
    dst[n] = '\0';
    return n;
}

static void send_text(const char *text, int newline)
{
    char *buf = malloc(strlen(text) + 3);
    size_t n = unescape(text, buf, 0);
    if (newline) buf[n++] = '\r'; /* the Return key */
    for (size_t off = 0; off < n;) {
        ssize_t w = write(master, buf + off, n - off);
        if (w < 0 && errno != EINTR) fail("cannot type into the terminal: %s", strerror(errno));
        if (w > 0) off += (size_t)w;
    }
    free(buf);
}

static void expect(const char *re, double timeout)
{
    regex_t rx;
    char *pat = malloc(2 * strlen(re) + 1);
    unescape(re, pat, 1);
    int bad = regcomp(&rx, pat, REG_EXTENDED);
    free(pat);
    if (bad) fail("bad regular expression: %s", re);
    double end = now() + timeout;
    for (;;) {
        regmatch_t m;
        if (out && regexec(&rx, out + consumed, 1, &m, 0) == 0) {
            consumed += (size_t)m.rm_eo;
            regfree(&rx);
            return;
        }
        double left = end - now();
        if (left <= 0) fail("timed out waiting for: %s", re);
        if (!pump(left > 0.1 ? 100 : (int)(left * 1000) + 1)) {
            /* the command is gone: one last look */
            if (out && regexec(&rx, out + consumed, 1, &m, 0) == 0) {
                consumed += (size_t)m.rm_eo;
                regfree(&rx);
                return;
            }
            fail("the command ended before writing: %s", re);
        }
    }
}

static void wait_exit(int want, double timeout)
{
    double end = now() + timeout;
    int status;
    for (;;) {
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child) break;
        if (now() > end) fail("the command did not exit (expected status %s)", "");
        pump(50);
    }
    child = -1;
    int got = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (got != want) {
        char msg[64];
        snprintf(msg, sizeof msg, "%d, expected %d", got, want);
        fail("the command exited with status %s", msg);
    }
}

static void run(char *words, const char *parlua)
{
    char *argv[64];
    int argc = 0;
    for (char *w = strtok(words, " "); w && argc < 63; w = strtok(NULL, " "))
        argv[argc++] = strcmp(w, "PARLUA") == 0 ? (char *)parlua : w;
    argv[argc] = NULL;
    if (argc == 0) fail("run needs a command%s", "");
    struct winsize ws = {24, 80, 0, 0};
    child = forkpty(&master, NULL, NULL, &ws);
    if (child < 0) fail("forkpty: %s", strerror(errno));
    if (child == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "pty-driver: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pty-driver PARLUA SCRIPT\n");
        return 2;
    }
    script_path = argv[2];
    FILE *f = fopen(script_path, "r");
    if (!f) {
        fprintf(stderr, "pty-driver: cannot open %s: %s\n", script_path, strerror(errno));
        return 2;
    }
    double timeout = 60;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *arg = strchr(line, ' ');
        if (arg) *arg++ = '\0';
        if (!arg) arg = line + strlen(line);
        if (strcmp(line, "env") == 0) {
            putenv(strdup(arg));
        } else if (strcmp(line, "run") == 0) {
            run(arg, argv[1]);
        } else if (strcmp(line, "timeout") == 0) {
            timeout = atof(arg);
        } else if (child < 0) {
            fail("'%s' before run (or after exit)", line);
        } else if (strcmp(line, "send") == 0 || strcmp(line, "sendraw") == 0) {
            send_text(arg, strcmp(line, "send") == 0);
        } else if (strcmp(line, "expect") == 0) {
            expect(arg, timeout);
        } else if (strcmp(line, "sleep") == 0) {
            double end = now() + atof(arg);
            while (now() < end)
                pump(20);
        } else if (strcmp(line, "signal") == 0) {
            kill(child, atoi(arg));
        } else if (strcmp(line, "exit") == 0) {
            wait_exit(atoi(arg), timeout);
        } else {
            fail("unknown step '%s'", line);
        }
    }
    fclose(f);
    if (getenv("VERBOSE") && out) fwrite(out, 1, out_len, stderr); /* to see a passing run */
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        fail("the script ended with the command still running (add an exit step)%s", "");
    }
    return 0;
}
