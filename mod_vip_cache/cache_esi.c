/*
 * cache_esi.c - the streaming ESI parser (see cache_esi.h for the API,
 * docs/esi.md for the grammar and the decisions; the src policy is in
 * cache_esi_src.c).
 *
 * The parser is a byte-level state machine that never looks back at input
 * it has returned from:
 *   TEXT  scanning text; spans are emitted pointing into the caller's
 *         chunk (zero copy) up to the next byte that may open a construct
 *   CAND  a few bytes that are a prefix of an opener ("<esi:", "</esi:",
 *         "<!--esi" + white space, "<!--esi-->", and "-->" inside
 *         <!--esi); they are mirrored into the tag buffer, so an opener
 *         split by a chunk end survives; when they stop matching, the
 *         longest suffix that still may match stays and the rest is text
 *   TAG   an esi start or end tag, collected into the tag buffer up to the
 *         closing '>' (quote aware in start tags), then interpreted
 * Only the tag buffer (max_tag bytes, allocated once) crosses chunk ends,
 * so memory is bounded whatever the document.  Every decision depends on
 * the bytes alone, never on where a chunk ended: that is what makes split
 * and single-shot parsing agree (test_cache_esi.c and fuzz_cache_esi.c
 * check it at every split point).
 */
#include <string.h>

#include <apr_strings.h>

#include "cache_esi.h"

enum { ST_TEXT, ST_CAND, ST_TAG, ST_DONE };

/* Openers.  '\001' in a pattern stands for one white-space byte, which is
 * looked at but not consumed. */
enum { P_NONE = -1, P_PREFIX = 0, P_START, P_END, P_OPEN, P_EMPTY, P_CLOSE };
static const struct {
    const char *pat;
    apr_size_t len;
    int id;
    int mode;               /* 1: outside remove, 2: inside remove, 3: both */
    int need_comment;       /* only inside <!--esi */
} openers[] = {
    { "<esi:", 5, P_START, 3, 0 },
    { "</esi:", 6, P_END, 3, 0 },
    { "<!--esi\001", 8, P_OPEN, 1, 0 },
    { "<!--esi-->", 10, P_EMPTY, 1, 0 },
    { "-->", 3, P_CLOSE, 1, 1 },
};
#define N_OPENERS (sizeof(openers) / sizeof(openers[0]))

struct vip_esi_parser {
    apr_pool_t *pool;
    vip_esi_emit_fn emit;
    void *ctx;
    apr_size_t max_tag;
    int max_includes;

    int state;
    apr_status_t rv;        /* sticky: the first failure of emit */
    apr_off_t pos;          /* document offset of the current chunk */

    char *buf;              /* candidate or tag bytes */
    apr_size_t len;
    apr_off_t buf_off;      /* document offset of buf[0] */
    int in_input;           /* buf[0..len) is also in the current chunk... */
    apr_size_t in_start;    /* ...starting at this index */
    int end_tag;            /* TAG: "</esi:" rather than "<esi:" */
    char quote;             /* TAG: inside a quoted attribute value */

    int remove;             /* <esi:remove> nesting */
    apr_off_t remove_off;
    int comment;            /* <!--esi nesting */
    apr_off_t comment_off;
    int open_includes;      /* <esi:include ...> awaiting </esi:include> */
    int open_comments;      /* <esi:comment ...> awaiting </esi:comment> */
    int includes;
    int errors;
};

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- events ------------------------------------------------------------ */

static void emit_text(vip_esi_parser *ps, const char *data, apr_size_t len,
                      apr_off_t off, int in_input)
{
    vip_esi_event ev;

    if (len == 0 || ps->rv != APR_SUCCESS || ps->remove) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = VIP_ESI_TEXT;
    ev.offset = off;
    ev.data = data;
    ev.len = len;
    ev.in_input = in_input;
    ps->rv = ps->emit(ps->ctx, &ev);
}

static void emit_error(vip_esi_parser *ps, vip_esi_error e, apr_off_t off)
{
    vip_esi_event ev;

    ps->errors++;
    if (ps->rv != APR_SUCCESS) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = VIP_ESI_ERROR;
    ev.offset = off;
    ev.error = e;
    ps->rv = ps->emit(ps->ctx, &ev);
}

/* Pass the held bytes buf[0..n) on as text: from the caller's chunk when
 * they are all there, else from the buffer. */
static void flush_held(vip_esi_parser *ps, const char *in, apr_size_t n)
{
    if (ps->in_input) {
        emit_text(ps, in + ps->in_start, n, ps->buf_off, 1);
        ps->in_start += n;
    }
    else {
        emit_text(ps, ps->buf, n, ps->buf_off, 0);
    }
    ps->buf_off += (apr_off_t)n;
}

/* ---- openers ----------------------------------------------------------- */

static int opener_active(const vip_esi_parser *ps, apr_size_t k)
{
    return (openers[k].mode & (ps->remove ? 2 : 1))
           && (!openers[k].need_comment || ps->comment);
}

/* Whether s[0..n) agrees with the first n bytes of opener k. */
static int opener_agrees(apr_size_t k, const char *s, apr_size_t n)
{
    const char *pat = openers[k].pat;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (pat[i] == '\001' ? !is_ws((unsigned char)s[i]) : pat[i] != s[i]) {
            return 0;
        }
    }
    return 1;
}

/* P_NONE, P_PREFIX or the id of the opener s[0..n) spells in full. */
static int classify(const vip_esi_parser *ps, const char *s, apr_size_t n)
{
    int result = P_NONE;
    apr_size_t k;

    for (k = 0; k < N_OPENERS; k++) {
        if (!opener_active(ps, k) || n > openers[k].len
            || !opener_agrees(k, s, n)) {
            continue;
        }
        if (n == openers[k].len) {
            return openers[k].id;
        }
        result = P_PREFIX;
    }
    return result;
}

/* Whether an opener may start at s, judging by the avail bytes there. */
static int may_open(const vip_esi_parser *ps, const char *s, apr_size_t avail)
{
    apr_size_t k;

    for (k = 0; k < N_OPENERS; k++) {
        if (opener_active(ps, k)
            && opener_agrees(k, s, avail < openers[k].len ? avail
                                                          : openers[k].len)) {
            return 1;
        }
    }
    return 0;
}

/* ---- tags -------------------------------------------------------------- */

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
        || c == ':';
}

typedef struct {
    const char *p, *end;    /* end: the closing '>' */
    int self_close;
} tag_cursor;

/*
 * The next attribute of a start tag: 1 with name/value set, 0 at the end
 * of the tag (self_close set for "/>"), -1 when the syntax is broken.
 * Attributes are separated by white space; a value is quoted with " or '
 * and may have white space around its '='.
 */
static int next_attr(tag_cursor *c, const char **name, apr_size_t *nlen,
                     const char **val, apr_size_t *vlen)
{
    int ws = 0;
    char q;

    while (c->p < c->end && is_ws((unsigned char)*c->p)) {
        c->p++;
        ws = 1;
    }
    if (c->p == c->end) {
        return 0;
    }
    if (*c->p == '/') {
        if (c->p + 1 != c->end) {
            return -1;
        }
        c->self_close = 1;
        return 0;
    }
    if (!ws || !is_name_char((unsigned char)*c->p)) {
        return -1;
    }
    *name = c->p;
    while (c->p < c->end && is_name_char((unsigned char)*c->p)) {
        c->p++;
    }
    *nlen = (apr_size_t)(c->p - *name);
    while (c->p < c->end && is_ws((unsigned char)*c->p)) {
        c->p++;
    }
    if (c->p == c->end || *c->p++ != '=') {
        return -1;
    }
    while (c->p < c->end && is_ws((unsigned char)*c->p)) {
        c->p++;
    }
    if (c->p == c->end || (*c->p != '"' && *c->p != '\'')) {
        return -1;
    }
    q = *c->p++;
    *val = c->p;
    while (c->p < c->end && *c->p != q) {
        c->p++;
    }
    if (c->p == c->end) {
        return -1;
    }
    *vlen = (apr_size_t)(c->p - *val);
    c->p++;
    return 1;
}

static int name_is(const char *s, apr_size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Walk all attributes to check the syntax: 1 ok (self_close set), 0 not. */
static int attrs_ok(tag_cursor *c)
{
    const char *n, *v;
    apr_size_t nl, vl;
    int r;

    while ((r = next_attr(c, &n, &nl, &v, &vl)) == 1) {
    }
    return r == 0;
}

static void do_include(vip_esi_parser *ps, tag_cursor *c)
{
    const char *n, *v, *src = NULL, *alt = NULL, *onerr = NULL;
    apr_size_t nl, vl, srcl = 0, altl = 0, onerrl = 0;
    int r, dup = 0, unknown = 0;
    vip_esi_event ev;

    while ((r = next_attr(c, &n, &nl, &v, &vl)) == 1) {
        if (name_is(n, nl, "src")) {
            dup |= src != NULL;
            src = v;
            srcl = vl;
        }
        else if (name_is(n, nl, "alt")) {
            dup |= alt != NULL;
            alt = v;
            altl = vl;
        }
        else if (name_is(n, nl, "onerror")) {
            dup |= onerr != NULL;
            onerr = v;
            onerrl = vl;
        }
        else {
            unknown = 1;
        }
    }
    if (r < 0) {
        emit_error(ps, VIP_ESI_E_MALFORMED, ps->buf_off);
        return;
    }
    if (!c->self_close) {
        ps->open_includes++;
    }
    if (dup) {
        emit_error(ps, VIP_ESI_E_DUP_ATTR, ps->buf_off);
        return;
    }
    if (!src || srcl == 0) {
        emit_error(ps, VIP_ESI_E_NO_SRC, ps->buf_off);
        return;
    }
    if (unknown) {
        emit_error(ps, VIP_ESI_E_UNKNOWN_ATTR, ps->buf_off);
    }
    if (onerr && !name_is(onerr, onerrl, "continue")) {
        emit_error(ps, VIP_ESI_E_BAD_ONERROR, ps->buf_off);
    }
    if (ps->max_includes >= 0 && ps->includes >= ps->max_includes) {
        emit_error(ps, VIP_ESI_E_TOO_MANY_INCLUDES, ps->buf_off);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = VIP_ESI_INCLUDE;
    ev.offset = ps->buf_off;
    ev.src = apr_pstrmemdup(ps->pool, src, srcl);
    ev.alt = alt ? apr_pstrmemdup(ps->pool, alt, altl) : NULL;
    ev.onerror_continue = onerr && name_is(onerr, onerrl, "continue");
    ev.index = ps->includes++;
    if (ps->rv == APR_SUCCESS) {
        ps->rv = ps->emit(ps->ctx, &ev);
    }
}

/* A complete tag is in buf[0..len), buf[len - 1] == '>'. */
static void handle_tag(vip_esi_parser *ps)
{
    tag_cursor c;
    const char *name;
    apr_size_t nlen;

    c.p = ps->buf + (ps->end_tag ? 6 : 5);
    c.end = ps->buf + ps->len - 1;
    c.self_close = 0;
    name = c.p;
    while (c.p < c.end && is_name_char((unsigned char)*c.p)
           && *c.p != ':') {
        c.p++;
    }
    nlen = (apr_size_t)(c.p - name);

    if (ps->remove) {
        /* Inside <esi:remove> everything is dropped; only its own nesting
         * is tracked, so an inner </esi:remove> cannot end the outer. */
        if (!name_is(name, nlen, "remove")) {
            return;
        }
        if (ps->end_tag) {
            while (c.p < c.end && is_ws((unsigned char)*c.p)) {
                c.p++;
            }
            if (c.p == c.end) {
                ps->remove--;
            }
        }
        else if (attrs_ok(&c) && !c.self_close) {
            ps->remove++;
        }
        return;
    }

    if (nlen == 0) {
        emit_error(ps, VIP_ESI_E_MALFORMED, ps->buf_off);
        return;
    }
    if (ps->end_tag) {
        int *open = NULL;

        while (c.p < c.end && is_ws((unsigned char)*c.p)) {
            c.p++;
        }
        if (c.p != c.end) {
            emit_error(ps, VIP_ESI_E_MALFORMED, ps->buf_off);
        }
        else if (name_is(name, nlen, "include")) {
            open = &ps->open_includes;
        }
        else if (name_is(name, nlen, "comment")) {
            open = &ps->open_comments;
        }
        else if (name_is(name, nlen, "remove")) {
            emit_error(ps, VIP_ESI_E_STRAY_CLOSE, ps->buf_off);
        }
        else {
            emit_error(ps, VIP_ESI_E_UNKNOWN_TAG, ps->buf_off);
        }
        if (open) {
            if (*open > 0) {
                (*open)--;
            }
            else {
                emit_error(ps, VIP_ESI_E_STRAY_CLOSE, ps->buf_off);
            }
        }
        return;
    }

    if (name_is(name, nlen, "include")) {
        do_include(ps, &c);
    }
    else if (name_is(name, nlen, "comment")) {
        if (!attrs_ok(&c)) {
            emit_error(ps, VIP_ESI_E_MALFORMED, ps->buf_off);
        }
        else if (!c.self_close) {
            ps->open_comments++;
        }
    }
    else if (name_is(name, nlen, "remove")) {
        if (!attrs_ok(&c)) {
            emit_error(ps, VIP_ESI_E_MALFORMED, ps->buf_off);
        }
        else if (!c.self_close) {
            ps->remove = 1;
            ps->remove_off = ps->buf_off;
        }
    }
    else {
        emit_error(ps, VIP_ESI_E_UNKNOWN_TAG, ps->buf_off);
    }
}

/* ---- the state machine ------------------------------------------------- */

/* TEXT: emit text up to the next byte that may open a construct. */
static apr_size_t scan_text(vip_esi_parser *ps, const char *in, apr_size_t i,
                            apr_size_t n)
{
    apr_size_t j = i;

    /* A '<' that the bytes after it in this chunk already rule out (most
     * HTML tags) stays text without a trip through CAND; at a chunk end
     * CAND decides with the same outcome. */
    for (;; j++) {
        if (ps->comment && !ps->remove) {
            while (j < n && in[j] != '<' && in[j] != '-') {
                j++;
            }
        }
        else {
            const char *lt = memchr(in + j, '<', n - j);
            j = lt ? (apr_size_t)(lt - in) : n;
        }
        if (j == n || may_open(ps, in + j, n - j)) {
            break;
        }
    }
    emit_text(ps, in + i, j - i, ps->pos + (apr_off_t)i, 1);
    if (j < n) {
        ps->state = ST_CAND;
        ps->len = 0;
        ps->buf_off = ps->pos + (apr_off_t)j;
        ps->in_input = 1;
        ps->in_start = j;
    }
    return j;
}

/* CAND: one more byte; returns whether it was consumed. */
static int step_cand(vip_esi_parser *ps, const char *in, char ch)
{
    apr_size_t j;
    int r;

    ps->buf[ps->len] = ch;
    r = classify(ps, ps->buf, ps->len + 1);
    switch (r) {
    case P_PREFIX:
        ps->len++;
        return 1;
    case P_START:
    case P_END:
        ps->len++;
        ps->state = ST_TAG;
        ps->end_tag = r == P_END;
        ps->quote = 0;
        return 1;
    case P_OPEN:
        /* The white space is content of the comment: not consumed. */
        if (ps->comment) {
            emit_error(ps, VIP_ESI_E_NESTED_COMMENT, ps->buf_off);
        }
        else {
            ps->comment_off = ps->buf_off;
        }
        ps->comment++;
        ps->state = ST_TEXT;
        return 0;
    case P_EMPTY:
        ps->state = ST_TEXT;
        return 1;
    case P_CLOSE:
        ps->comment--;
        ps->state = ST_TEXT;
        return 1;
    default:
        break;
    }
    /* No opener: keep the longest suffix that may still start one, pass
     * the bytes before it on, and look at ch again.  (len > 0 here: the
     * byte that left TEXT always starts an opener of the current mode.) */
    for (j = 1; j < ps->len; j++) {
        if (classify(ps, ps->buf + j, ps->len - j) == P_PREFIX) {
            break;
        }
    }
    flush_held(ps, in, j);
    memmove(ps->buf, ps->buf + j, ps->len - j);
    ps->len -= j;
    if (ps->len == 0) {
        ps->state = ST_TEXT;
    }
    return 0;
}

/* TAG: collect up to the closing '>'; returns the index after the bytes
 * taken from in[i..n). */
static apr_size_t step_tag(vip_esi_parser *ps, const char *in, apr_size_t i,
                           apr_size_t n)
{
    while (i < n) {
        char ch = in[i];

        if (ps->len == ps->max_tag) {
            /* Too long for a tag: its bytes are text (dropped inside
             * remove) and scanning goes on with this byte. */
            emit_error(ps, VIP_ESI_E_TAG_TOO_LONG, ps->buf_off);
            flush_held(ps, in, ps->len);
            ps->state = ST_TEXT;
            return i;
        }
        ps->buf[ps->len++] = ch;
        i++;
        if (!ps->end_tag && (ch == '"' || ch == '\'')) {
            if (!ps->quote) {
                ps->quote = ch;
            }
            else if (ps->quote == ch) {
                ps->quote = 0;
            }
        }
        else if (ch == '>' && !ps->quote) {
            handle_tag(ps);
            ps->state = ST_TEXT;
            return i;
        }
    }
    return i;
}

vip_esi_parser *vip_esi_parser_create(apr_pool_t *p,
                                      const vip_esi_limits *limits,
                                      vip_esi_emit_fn emit, void *ctx)
{
    vip_esi_parser *ps = apr_pcalloc(p, sizeof(*ps));

    ps->pool = p;
    ps->emit = emit;
    ps->ctx = ctx;
    ps->max_tag = limits && limits->max_tag ? limits->max_tag
                                            : VIP_ESI_MAX_TAG_DEFAULT;
    if (ps->max_tag < VIP_ESI_MAX_TAG_MIN) {
        ps->max_tag = VIP_ESI_MAX_TAG_MIN;
    }
    if (ps->max_tag > VIP_ESI_MAX_TAG_MAX) {
        ps->max_tag = VIP_ESI_MAX_TAG_MAX;
    }
    ps->max_includes = limits && limits->max_includes
                           ? limits->max_includes
                           : VIP_ESI_MAX_INCLUDES_DEFAULT;
    ps->buf = apr_palloc(p, ps->max_tag);
    ps->state = ST_TEXT;
    ps->rv = APR_SUCCESS;
    return ps;
}

apr_status_t vip_esi_parse(vip_esi_parser *ps, const char *in, apr_size_t n)
{
    apr_size_t i = 0;

    if (ps->state == ST_DONE) {
        return APR_EGENERAL;
    }
    /* Held bytes came from an earlier chunk: only the buffer has them. */
    ps->in_input = 0;
    while (i < n && ps->rv == APR_SUCCESS) {
        switch (ps->state) {
        case ST_TEXT:
            i = scan_text(ps, in, i, n);
            break;
        case ST_CAND:
            i += (apr_size_t)step_cand(ps, in, in[i]);
            break;
        default:
            i = step_tag(ps, in, i, n);
            break;
        }
    }
    ps->pos += (apr_off_t)n;
    return ps->rv;
}

apr_status_t vip_esi_finish(vip_esi_parser *ps)
{
    if (ps->state == ST_DONE) {
        return ps->rv;
    }
    ps->in_input = 0;
    if (ps->state == ST_TAG) {
        emit_error(ps, VIP_ESI_E_UNTERMINATED, ps->buf_off);
    }
    if (ps->state != ST_TEXT) {
        /* A prefix of an opener or a tag cut short is text. */
        flush_held(ps, NULL, ps->len);
    }
    if (ps->remove) {
        emit_error(ps, VIP_ESI_E_UNCLOSED_REMOVE, ps->remove_off);
    }
    if (ps->comment) {
        emit_error(ps, VIP_ESI_E_UNCLOSED_COMMENT, ps->comment_off);
    }
    ps->state = ST_DONE;
    return ps->rv;
}

int vip_esi_include_count(const vip_esi_parser *ps)
{
    return ps->includes;
}

int vip_esi_error_count(const vip_esi_parser *ps)
{
    return ps->errors;
}

const char *vip_esi_error_name(vip_esi_error e)
{
    static const char *const names[VIP_ESI_E_COUNT] = {
        "none", "tag_too_long", "unterminated", "malformed", "unknown_tag",
        "no_src", "dup_attr", "unknown_attr", "bad_onerror", "stray_close",
        "nested_comment", "unclosed_remove", "unclosed_comment",
        "too_many_includes"
    };

    return (int)e > 0 && (int)e < VIP_ESI_E_COUNT ? names[e] : "unknown";
}

/* ---- collector ---------------------------------------------------------- */

vip_esi_doc *vip_esi_doc_make(apr_pool_t *p)
{
    vip_esi_doc *d = apr_pcalloc(p, sizeof(*d));

    d->pool = p;
    d->events = apr_array_make(p, 16, sizeof(vip_esi_event));
    return d;
}

apr_status_t vip_esi_collect(void *ctx, const vip_esi_event *ev)
{
    vip_esi_doc *d = ctx;
    vip_esi_event *e = apr_array_push(d->events);

    *e = *ev;
    if (ev->type == VIP_ESI_TEXT && !ev->in_input) {
        e->data = apr_pmemdup(d->pool, ev->data, ev->len);
    }
    else if (ev->type == VIP_ESI_INCLUDE) {
        d->includes++;
    }
    else if (ev->type == VIP_ESI_ERROR) {
        d->errors++;
    }
    return APR_SUCCESS;
}
