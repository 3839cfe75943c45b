/*
 * test_cache_esi.c - unit tests of mod_vip_cache's ESI parser and include
 * src policy (THREATS 2.4 E2, E3, E5), no httpd needed.
 *
 * Besides one test per construct and per malformed form, a property test
 * feeds every document split at every byte position, at every pair of
 * positions (short documents), byte by byte and at random multi-split
 * points, and requires exactly the events of the single-shot parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "cache_esi.h"

#include "unit.h"

static apr_pool_t *pool;

/* ---- event recorder ---------------------------------------------------- */

/*
 * Two renderings of the event stream: `full` with offsets and every field
 * (text runs merged, since a chunk end may split one), for the property
 * test; `out` as a page would look - text, {src} for an include, !kind
 * for an error - for the construct tests.
 */
typedef struct {
    apr_pool_t *p;
    const char *chunk;      /* current chunk, to check zero-copy spans */
    apr_size_t chunk_len;
    char *full, *out, *run;
    apr_off_t run_off;
    int copies;             /* text events not pointing into the input */
    int bad_span;           /* in_input span outside the current chunk */
    int fail_after;         /* >0: return an error from this event on */
    int events;
} rec;

static void flush_run(rec *r)
{
    if (r->run) {
        r->full = apr_psprintf(r->p, "%sT@%" APR_OFF_T_FMT "(%s)\n", r->full,
                               r->run_off, r->run);
        r->run = NULL;
    }
}

static apr_status_t record(void *ctx, const vip_esi_event *ev)
{
    rec *r = ctx;
    char *t;

    if (r->fail_after && ++r->events >= r->fail_after) {
        return APR_EGENERAL;
    }
    switch (ev->type) {
    case VIP_ESI_TEXT:
        if (ev->len == 0) {
            r->bad_span = 1;
        }
        if (ev->in_input) {
            if (ev->data < r->chunk
                || ev->data + ev->len > r->chunk + r->chunk_len) {
                r->bad_span = 1;
            }
        }
        else {
            r->copies++;
        }
        t = apr_pstrmemdup(r->p, ev->data, ev->len);
        if (!r->run) {
            r->run = t;
            r->run_off = ev->offset;
        }
        else {
            r->run = apr_pstrcat(r->p, r->run, t, NULL);
        }
        r->out = apr_pstrcat(r->p, r->out, t, NULL);
        break;
    case VIP_ESI_INCLUDE:
        flush_run(r);
        r->full = apr_psprintf(r->p, "%sI@%" APR_OFF_T_FMT "#%d(%s|%s|%d)\n",
                               r->full, ev->offset, ev->index, ev->src,
                               ev->alt ? ev->alt : "-", ev->onerror_continue);
        r->out = apr_psprintf(r->p, "%s{%s}", r->out, ev->src);
        break;
    case VIP_ESI_ERROR:
        flush_run(r);
        r->full = apr_psprintf(r->p, "%sE@%" APR_OFF_T_FMT ":%s\n", r->full,
                               ev->offset, vip_esi_error_name(ev->error));
        r->out = apr_psprintf(r->p, "%s!%s", r->out,
                              vip_esi_error_name(ev->error));
        break;
    }
    return APR_SUCCESS;
}

/* Parse doc[0..len) cut at the sorted positions cuts[0..ncuts). */
static rec *parse_cuts(apr_pool_t *p, const char *doc, apr_size_t len,
                       const apr_size_t *cuts, int ncuts,
                       const vip_esi_limits *lim)
{
    rec *r = apr_pcalloc(p, sizeof(*r));
    vip_esi_parser *ps;
    apr_size_t from = 0;
    int i;

    r->p = p;
    r->full = r->out = "";
    ps = vip_esi_parser_create(p, lim, record, r);
    for (i = 0; i <= ncuts; i++) {
        apr_size_t to = i < ncuts ? cuts[i] : len;
        /* A private copy per chunk, so a span that strays outside its
         * chunk (or outlives it) cannot pass by accident. */
        char *c = malloc(to - from + 1);

        memcpy(c, doc + from, to - from);
        r->chunk = c;
        r->chunk_len = to - from;
        vip_esi_parse(ps, c, to - from);
        r->chunk = NULL;
        memset(c, '#', to - from);
        free(c);
        from = to;
    }
    vip_esi_finish(ps);
    flush_run(r);
    return r;
}

static rec *parse1(const char *doc, const vip_esi_limits *lim)
{
    return parse_cuts(pool, doc, strlen(doc), NULL, 0, lim);
}

static const char *out_of(const char *doc)
{
    return parse1(doc, NULL)->out;
}

static void expect_out(const char *doc, const char *want, const char *name)
{
    const char *got = out_of(doc);

    if (strcmp(got, want) != 0) {
        printf("  doc:  %s\n  want: %s\n  got:  %s\n", doc, want, got);
    }
    CHECK(strcmp(got, want) == 0, name);
}

/* ---- constructs -------------------------------------------------------- */

static void test_constructs(void)
{
    rec *r;

    r = parse1("plain <b>text</b> - no esi", NULL);
    CHECK(strcmp(r->full, "T@0(plain <b>text</b> - no esi)\n") == 0,
          "plain text is one span");
    CHECK(r->copies == 0 && !r->bad_span, "plain text is not copied");

    r = parse1("ab<esi:include src=\"/f\"/>cd", NULL);
    CHECK(strcmp(r->full, "T@0(ab)\nI@2#0(/f|-|0)\nT@25(cd)\n") == 0,
          "include: event with its offset, text around it");
    CHECK(r->copies == 0, "include: text is zero copy");

    expect_out("<esi:include src = '/f' alt= \"/g\" onerror =\"continue\" />",
               "{/f}", "include: single quotes, space around =");
    r = parse1("<esi:include\tsrc='/f'\nalt=\"/g\"\r\nonerror='continue'/>",
               NULL);
    CHECK(strcmp(r->full, "I@0#0(/f|/g|1)\n") == 0,
          "include: alt and onerror=continue reported");
    r = parse1("<esi:include src=\"/a'b\" alt='/c\"d'/>", NULL);
    CHECK(strcmp(r->full, "I@0#0(/a'b|/c\"d|0)\n") == 0,
          "include: the other quote inside a value");
    r = parse1("<esi:include src=\"/a>b\"/>x", NULL);
    CHECK(strcmp(r->full, "I@0#0(/a>b|-|0)\nT@25(x)\n") == 0,
          "include: '>' inside quotes does not end the tag");
    expect_out("<esi:include src=\"/a?x=1&amp;y=2\"/>", "{/a?x=1&amp;y=2}",
               "include: src given raw (entities decoded by the policy)");
    expect_out("a<esi:include src=\"/f\"></esi:include>b", "a{/f}b",
               "include: open form, close tag dropped");
    expect_out("a<esi:include src=\"/f\">x</esi:include >b", "a{/f}xb",
               "include: open form keeps its content, close with space");
    r = parse1("<esi:include src=\"/1\"/><esi:include src=\"/2\"/>", NULL);
    CHECK(strcmp(r->full, "I@0#0(/1|-|0)\nI@23#1(/2|-|0)\n") == 0,
          "include: indexes in document order");

    expect_out("a<esi:remove>hidden<esi:include src=\"/x\"/></esi:remove>b",
               "ab", "remove: content and includes inside dropped");
    expect_out("a<esi:remove>1<esi:remove>2</esi:remove>3</esi:remove>b",
               "ab", "remove: nested removes close in order");
    expect_out("a<esi:remove>x<!--esi y-->z</esi:remove>b", "ab",
               "remove: <!--esi inside is removed content");
    expect_out("a<esi:remove/>b", "ab", "remove: empty element");
    expect_out("a</esi:remove>b", "a!stray_closeb",
               "remove: stray close tag dropped and counted");

    expect_out("a<!--esi <esi:include src=\"/f\"/> -->b", "a {/f} b",
               "<!--esi: wrapper dropped, content processed");
    expect_out("a<!--esi\n<p>x</p>\n-->b", "a\n<p>x</p>\nb",
               "<!--esi: text inside kept");
    expect_out("a<!--esi-->b", "ab", "<!--esi-->: dropped");
    expect_out("a<!-- plain -->b<!--esix -->", "a<!-- plain -->b<!--esix -->",
               "HTML comments and <!--esix stay text");
    expect_out("a-->b", "a-->b", "--> outside <!--esi is text");
    expect_out("<!--esi a - -- b--->c", " a - -- b-c",
               "<!--esi: dashes inside, ---> closes");
    expect_out("<!--esi <!--esi <esi:include src=\"/f\"/> --> -->x",
               " !nested_comment {/f}  x",
               "<!--esi nested: counted, both closers consumed");
    expect_out("<!--esi a<!-->b", " a<!b",
               "<!--esi: '-->' found inside '<!-->'");

    expect_out("a<esi:comment text=\"hidden\"/>b", "ab", "comment: dropped");
    expect_out("a<esi:comment>x</esi:comment>b", "axb",
               "comment: open form, close tag dropped");

    expect_out("a<esi:bogosity/>b", "a!unknown_tagb",
               "unknown element dropped and counted");
    expect_out("<esi:try><esi:attempt>x</esi:attempt></esi:try>",
               "!unknown_tag!unknown_tagx!unknown_tag!unknown_tag",
               "unsupported try/attempt: tags dropped, content kept");
    expect_out("<ESI:include src=\"/f\"/><Esi:remove>",
               "<ESI:include src=\"/f\"/><Esi:remove>",
               "names are case sensitive: other cases are text");
    expect_out("<esi:include SRC=\"/f\"/>", "!no_src",
               "attribute names are case sensitive");
    expect_out("<<esi:include src=\"/f\"/><", "<{/f}<",
               "a '<' before an opener is text");
    expect_out("<es<esi:comment/><!-<!--esi -->x", "<es<!- x",
               "broken opener prefixes are text");
    expect_out("<!--esi", "<!--esi", "<!--esi at the end is text");
    expect_out("x<esi", "x<esi", "opener prefix at the end is text");
}

/* Varnish e00008 and friends (THREATS E5): what each malformed form does. */
static void test_malformed(void)
{
    rec *r;
    vip_esi_limits lim = { 64, 2 };
    char *big;

    expect_out("<esi:include\n\t\n     >", "!no_src", "include without src");
    expect_out("<esi:include  aaa />", "!malformed", "attribute without value");
    expect_out("<esi:include  k?=./>", "!malformed", "junk attribute name");
    expect_out("<esi:include  src/>", "!malformed", "src without value");
    expect_out("<esi:include  src=/>", "!malformed", "src= unquoted");
    expect_out("<esi:include  src= />", "!malformed", "src= nothing");
    expect_out("<esi:include  foo=bar src=/body2 />", "!malformed",
               "unquoted values");
    expect_out("<esi:include src=\"\"/>", "!no_src", "empty src");
    expect_out("<esi:include src=\"/a\" src=\"/b\"/>", "!dup_attr",
               "duplicate src dropped");
    expect_out("<esi:include src=\"/a\"alt=\"/b\"/>", "!malformed",
               "attributes not separated by space");
    expect_out("<esi:include src=\"/a\" / >", "!malformed",
               "'/' not directly before '>'");
    expect_out("<esi:include src=\"/a b\"/>", "{/a b}",
               "src with a space parsed (the policy refuses it)");
    expect_out("<esi:include src=\"/a\" ttl=\"5\"/>", "!unknown_attr{/a}",
               "unknown attribute counted, include kept");
    r = parse1("<esi:include src=\"/a\" onerror=\"abort\"/>", NULL);
    CHECK(strcmp(r->full, "E@0:bad_onerror\nI@0#0(/a|-|0)\n") == 0,
          "onerror other than continue: counted, no continue flag");
    expect_out("<esi:>x</esi:>", "!malformedx!malformed", "empty names");
    expect_out("</esi:include>", "!stray_close", "stray </esi:include>");
    expect_out("</esi:comment x>", "!malformed", "close tag with attributes");
    expect_out("</>", "</>", "</> is text");
    expect_out("a<esi:include  src=\"foofof />b<esi:include src=\"/c\"/>",
               "a!unterminated<esi:include  src=\"foofof />b<esi:include "
               "src=\"/c\"/>",
               "unterminated quote: the rest is text at the end");
    expect_out("a<esi:include src=\"/b\"", "a!unterminated<esi:include "
               "src=\"/b\"", "tag cut by the end: text");
    expect_out("a<esi:remove>b<esi:include src=\"/x\"/>", "a!unclosed_remove",
               "remove never closed: the rest dropped");
    expect_out("a<esi:remove>b</esi:remove", "a!unterminated!unclosed_remove",
               "remove close tag cut by the end");
    expect_out("a<!--esi b", "a b!unclosed_comment",
               "<!--esi never closed: content kept, counted");

    r = parse1("<esi:include src=\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaaaaaaaaaaaaaaaa\"/>x<esi:include src=\"/b\"/>", &lim);
    CHECK(strncmp(r->out, "!tag_too_long<esi:include src=\"/aaa", 35) == 0
          && strstr(r->out, "\"/>x{/b}") != NULL,
          "tag longer than max_tag: counted, passed on as text");
    r = parse1("<esi:remove><esi:include src=\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"/></esi:remove>x", &lim);
    CHECK(strcmp(r->out, "!tag_too_longx") == 0,
          "overlong tag inside remove stays removed");
    r = parse1("<esi:include src=\"/1\"/><esi:include src=\"/2\"/>"
               "<esi:include src=\"/3\"/>", &lim);
    CHECK(strcmp(r->out, "{/1}{/2}!too_many_includes") == 0,
          "includes beyond max_includes dropped and counted");

    /* 1 000 includes (E4): the default cap of 64 holds. */
    big = "";
    {
        int i;
        for (i = 0; i < 1000; i++) {
            big = apr_pstrcat(pool, big, "<esi:include src=\"/f\"/>", NULL);
        }
    }
    r = parse1(big, NULL);
    {
        const char *p = r->out;
        int inc = 0, err = 0;
        while ((p = strchr(p, '{'))) {
            inc++;
            p++;
        }
        p = r->out;
        while ((p = strstr(p, "!too_many"))) {
            err++;
            p++;
        }
        CHECK(inc == 64 && err == 936, "1000 includes: 64 kept, 936 counted");
    }
}

static void test_api(void)
{
    rec r;
    vip_esi_parser *ps;
    vip_esi_doc *doc;
    vip_esi_event *ev;
    const char *page = "a<esi:include src=\"/f\"/>b<esi:bogus/>";

    memset(&r, 0, sizeof(r));
    r.p = pool;
    r.full = r.out = "";
    r.fail_after = 2;
    r.chunk = page;
    r.chunk_len = strlen(page);
    ps = vip_esi_parser_create(pool, NULL, record, &r);
    CHECK(vip_esi_parse(ps, page, strlen(page)) == APR_EGENERAL,
          "an emit failure stops the parser and is returned");
    CHECK(r.events == 2, "no events after the failure");
    CHECK(vip_esi_finish(ps) == APR_EGENERAL, "finish returns it too");

    doc = vip_esi_doc_make(pool);
    ps = vip_esi_parser_create(pool, NULL, vip_esi_collect, doc);
    vip_esi_parse(ps, page, 5);
    vip_esi_parse(ps, page + 5, strlen(page) - 5);
    CHECK(vip_esi_finish(ps) == APR_SUCCESS, "collector: parse ok");
    CHECK(doc->includes == 1 && doc->errors == 1
          && vip_esi_include_count(ps) == 1 && vip_esi_error_count(ps) == 1,
          "collector: counts");
    CHECK(doc->events->nelts == 4, "collector: four events");
    ev = &APR_ARRAY_IDX(doc->events, 1, vip_esi_event);
    CHECK(ev->type == VIP_ESI_INCLUDE && strcmp(ev->src, "/f") == 0
          && ev->offset == 1, "collector: the include, split opener");
    CHECK(vip_esi_parse(ps, "x", 1) == APR_EGENERAL,
          "no input after finish");
    CHECK(strcmp(vip_esi_error_name(VIP_ESI_E_NO_SRC), "no_src") == 0
          && strcmp(vip_esi_error_name((vip_esi_error)99), "unknown") == 0,
          "error names");

    {
        /* Text held across a chunk end is copied by the collector. */
        char c1[8], c2[8];
        vip_esi_event *t;

        doc = vip_esi_doc_make(pool);
        ps = vip_esi_parser_create(pool, NULL, vip_esi_collect, doc);
        memcpy(c1, "ab<es", 5);
        memcpy(c2, "zcd", 3);
        vip_esi_parse(ps, c1, 5);
        vip_esi_parse(ps, c2, 3);
        vip_esi_finish(ps);
        memset(c1, '#', sizeof(c1));
        t = &APR_ARRAY_IDX(doc->events, 1, vip_esi_event);
        CHECK(doc->events->nelts == 3 && !t->in_input && t->len == 3
              && memcmp(t->data, "<es", 3) == 0 && t->offset == 2,
              "collector: held-back text copied into its pool");
    }
}

/* ---- the property: any chunking gives the single-shot events ----------- */

static const char *docs[] = {
    "plain text without markup",
    "ab<esi:include src=\"/f\"/>cd",
    "<esi:include src = '/f' alt= \"/g\" onerror =\"continue\" />x",
    "<esi:include src=\"/a>b\"/>x<esi:include src='/c'></esi:include>",
    "a<esi:remove>hidden<esi:include src=\"/x\"/></esi:remove>b",
    "a<esi:remove>1<esi:remove>2</esi:remove>3</esi:remove>b</esi:remove>",
    "a<!--esi <esi:include src=\"/f\"/> -->b<!--esi-->c",
    "<!--esi <!--esi <esi:include src=\"/f\"/> --> -->x--->",
    "<!--esi a - -- b---><!--esi a<!-->b-->",
    "a<esi:comment text=\"x\"/>b<esi:comment>y</esi:comment>",
    "<esi:try><esi:attempt>x</esi:attempt></esi:try><ESI:include src=x>",
    "<<esi:include src=\"/f\"/><es<esi:comment/><!-<!--esi -->x<",
    "<html>\n<!--esi <esi:include src=\"/body\"/> -->\n<!-- normal -->\n"
    "<esi:bogosity/>\n<esi:comment>\n foo\n </esi:comment>\n"
    "<esi:comment bar />\n<esi:remove>\n<esi:comment foo/>\n</esi:remove>\n"
    "<esi:remove>\n<esi:remove>\nbar\n</esi:remove>\n</esi:remove>\n</>\n"
    "<esi:remove/>\n<esi:include\n\t\n     >\n<esi:include  aaa />\n"
    "<esi:include  k?=./>\n<esi:include  src/>\n<esi:include  src=/>\n"
    "<esi:include  src= />\n</esi:include>\n<esi:include  src=\"foofof />\n"
    "<esi:include  foo=bar src=/body2 />\n",
    "a<esi:include src=\"/b\"",
    "a<esi:remove>b<esi:include src=\"/x\"/>",
    "a<esi:remove>b</esi:remove",
    "a<!--esi b",
    "<esi:include src=\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"/>x<esi:include src=\"/b\"/>",
    "<esi:remove><esi:include src='/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'/></esi:remove>x",
    "<esi:include src=\"/1\"/><esi:include src=\"/2\"/><esi:include "
    "src=\"/3\" onerror=\"x\" ttl='1'/><esi:include src=\"/4\" src=\"/4\"/>",
    "x<esi:include src=\"/a\"/ ><esi:>y</esi:></esi:comment x>--",
    "<!--esi\n<esi:remove>--></esi:remove>-->",
    "<!--esi",
    "<esi:include src=\"/f\"",
};

static int cmp_size(const void *a, const void *b)
{
    apr_size_t x = *(const apr_size_t *)a, y = *(const apr_size_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse doc with the given cuts in a scratch pool and compare with the
 * single-shot rendering; prints the first mismatch. */
static int same_as(const char *want, const char *text,
                   const apr_size_t *cs, int ncut, const vip_esi_limits *lim,
                   int *span_err)
{
    apr_pool_t *sub;
    rec *r;
    int same;
    static int shown;

    apr_pool_create(&sub, pool);
    r = parse_cuts(sub, text, strlen(text), cs, ncut, lim);
    same = strcmp(r->full, want) == 0;
    *span_err |= r->bad_span;
    if (!same && !shown++) {
        int i;
        printf("  doc: %s\n  cuts:", text);
        for (i = 0; i < ncut; i++) {
            printf(" %lu", (unsigned long)cs[i]);
        }
        printf("\n  got:\n%s  single shot:\n%s", r->full, want);
    }
    apr_pool_destroy(sub);
    return same;
}

static unsigned long next_rand(unsigned long *seed)
{
    *seed = *seed * 6364136223846793005UL + 1442695040888963407UL;
    return *seed >> 33;
}

static void test_split_property(void)
{
    vip_esi_limits lims[2] = { { 0, 0 }, { 64, 2 } };
    unsigned long seed = 12345;
    int d, l, mism = 0, runs = 0, bad_span = 0;

    for (l = 0; l < 2; l++) {
        for (d = 0; d < (int)(sizeof(docs) / sizeof(docs[0])); d++) {
            const char *doc = docs[d];
            apr_size_t len = strlen(doc), a, b, cuts[16];
            apr_size_t *all = malloc((len + 1) * sizeof(*all));
            rec *one = parse1(doc, &lims[l]);
            int k, n;

            bad_span |= one->bad_span;
            for (a = 0; a <= len; a++) {
                mism += !same_as(one->full, doc, &a, 1, &lims[l], &bad_span);
                runs++;
                for (b = a; len <= 200 && b <= len; b++) {
                    cuts[0] = a;
                    cuts[1] = b;
                    mism += !same_as(one->full, doc, cuts, 2, &lims[l],
                                     &bad_span);
                    runs++;
                }
                all[a] = a;
            }
            /* Byte by byte. */
            mism += !same_as(one->full, doc, all + 1, (int)(len ? len - 1 : 0),
                             &lims[l], &bad_span);
            runs++;
            /* Random multi-splits (empty chunks included). */
            for (k = 0; k < 300; k++) {
                n = 1 + (int)(next_rand(&seed) % 15);
                for (a = 0; a < (apr_size_t)n; a++) {
                    cuts[a] = (apr_size_t)(next_rand(&seed) % (len + 1));
                }
                qsort(cuts, (size_t)n, sizeof(cuts[0]), cmp_size);
                mism += !same_as(one->full, doc, cuts, n, &lims[l],
                                 &bad_span);
                runs++;
            }
            free(all);
        }
    }
    printf("  split property: %d chunkings compared, %d differ\n", runs,
           mism);
    CHECK(mism == 0, "every chunking gives the single-shot events");
    CHECK(!bad_span, "every zero-copy span lies inside its chunk");
}

/* ---- src policy (E2) and chain check (E3) ------------------------------ */

static void accept_src(const char *src, const char *parent, const char *want)
{
    char *out = NULL;
    const char *why = NULL;
    apr_status_t rv = vip_esi_src_resolve(pool, src, strlen(src), parent,
                                          &out, &why);

    if (rv != APR_SUCCESS || strcmp(out, want) != 0) {
        printf("  src %s: %s\n", src, rv == APR_SUCCESS ? out : why);
    }
    CHECK(rv == APR_SUCCESS && strcmp(out, want) == 0,
          apr_psprintf(pool, "src accepted: %s", src));
}

static void refuse_src_n(const char *src, apr_size_t len, const char *parent,
                         const char *reason)
{
    char *out = NULL;
    const char *why = NULL;
    apr_status_t rv = vip_esi_src_resolve(pool, src, len, parent, &out, &why);

    if (rv == APR_SUCCESS || strcmp(why, reason) != 0) {
        printf("  src %s: %s\n", src, rv == APR_SUCCESS ? out : why);
    }
    CHECK(rv == APR_EINVAL && out == NULL && why
          && strcmp(why, reason) == 0,
          apr_psprintf(pool, "src refused (%s): %s", reason, src));
}

static void refuse_src(const char *src, const char *reason)
{
    refuse_src_n(src, strlen(src), "/page/index.html", reason);
}

static void test_src_policy(void)
{
    char *longsrc;

    accept_src("/frag/a", NULL, "/frag/a");
    accept_src("/a?x=1&amp;y=2", NULL, "/a?x=1&y=2");
    accept_src("/a?x=1&y=2&z", NULL, "/a?x=1&y=2&z");
    accept_src("/a?", NULL, "/a");
    accept_src("/a//b///c/", NULL, "/a/b/c/");
    accept_src("/%7euser/%41%2d%5F", NULL, "/~user/A-_");
    accept_src("/a%3f%3A%20b", NULL, "/a%3F%3A%20b");
    accept_src("/a?q=%2f%25%7e&r=a/b?c", NULL, "/a?q=%2F%25~&r=a/b?c");
    accept_src("/a:b/c@d;e=f", NULL, "/a:b/c@d;e=f");
    accept_src("/a/.x/..y/...", NULL, "/a/.x/..y/...");
    accept_src("frag/b?x=1", "/page/index.html", "/page/frag/b?x=1");
    accept_src("b", "/", "/b");
    accept_src("b", "/dir/", "/dir/b");
    refuse_src_n("./b", 3, "/dir/", "dot_segment");

    refuse_src("", "empty");
    refuse_src("?x=1", "empty");
    refuse_src("http://127.0.0.1:11211/", "scheme");
    refuse_src("HTTP://example.com/", "scheme");
    refuse_src("https:/x", "scheme");
    refuse_src("file:///etc/passwd", "scheme");
    refuse_src("data:text/html,x", "scheme");
    refuse_src("javascript:alert(1)", "scheme");
    refuse_src("unix:/run/memcached.sock", "scheme");
    refuse_src("javascript%3Aalert(1)", "scheme");
    refuse_src("//evil.example/x", "network_path");
    refuse_src("///evil.example/x", "network_path");
    refuse_src("/\\evil.example/x", "backslash");
    refuse_src("\\\\evil.example\\x", "backslash");
    refuse_src("/a%5cb", "backslash");
    refuse_src(" /a", "space");
    refuse_src("/a b", "space");
    refuse_src("/a\r\nX-Injected: 1", "control_char");
    refuse_src("/a\tb", "control_char");
    refuse_src_n("/a\0b", 4, NULL, "control_char");
    refuse_src("/a\x7f", "control_char");
    refuse_src("&#47;&#47;evil.example/", "entity");
    refuse_src("&#x2F;&#x2f;evil.example/", "entity");
    refuse_src("javascript&#58;alert(1)", "entity");
    refuse_src("/a&lt;script&gt;", "entity");
    refuse_src("/a?x=1&AMP;y=2", "entity");
    refuse_src("/a&amp;#x2F;", "fragment");
    refuse_src("/%2F%2Fevil.example/", "encoded_slash");
    refuse_src("%2F%2Fevil.example/", "encoded_slash");
    refuse_src("/a%2fb", "encoded_slash");
    refuse_src("/a/%2e%2e/admin", "dot_segment");
    refuse_src("/a/%2E/b", "dot_segment");
    refuse_src("/a/../admin", "dot_segment");
    refuse_src("/a/./b", "dot_segment");
    refuse_src("/..;x/admin", "dot_segment");
    refuse_src("../admin", "dot_segment");
    refuse_src("/a/..", "dot_segment");
    refuse_src("/a/%252e%252e/b", "double_encoding");
    refuse_src("/a%0d%0aX:1", "encoded_control");
    refuse_src("/a?x=%0A", "encoded_control");
    refuse_src("/a%00", "encoded_control");
    refuse_src("/a%zz", "bad_escape");
    refuse_src("/a%4", "bad_escape");
    refuse_src("/a?x=%", "bad_escape");
    refuse_src("/a#frag", "fragment");
    refuse_src("/caf\xc3\xa9", "bad_char");
    refuse_src("/a<b", "bad_char");
    refuse_src("/a\"b", "bad_char");
    refuse_src("/a|b", "bad_char");
    refuse_src_n("rel", 3, NULL, "no_parent");
    refuse_src_n("rel", 3, "page.html", "no_parent");
    longsrc = apr_pstrcat(pool, "/", apr_psprintf(pool, "%0*d", 2048, 0),
                          NULL);
    refuse_src(longsrc, "too_long");
    refuse_src_n(longsrc + 2, strlen(longsrc + 2),
                 apr_pstrcat(pool, "/", longsrc + 2, NULL), "too_long");
}

static void test_uri_normalize(void)
{
    char *out, *again;
    const char *why;

    CHECK(vip_esi_uri_normalize(pool, "/a//b?x=&amp;%7e", 16, &out, &why)
          == APR_SUCCESS && strcmp(out, "/a/b?x=&amp;~") == 0,
          "uri: '&' literal, not markup");
    CHECK(vip_esi_uri_normalize(pool, "b", 1, &out, &why) == APR_EINVAL
          && strcmp(why, "no_parent") == 0, "uri: absolute only");
    CHECK(vip_esi_uri_normalize(pool, "/a b", 4, &out, &why) == APR_EINVAL
          && strcmp(why, "space") == 0, "uri: same checks");
    /* Found by fuzz_cache_esi: the resolved src is a URI, not markup, so
     * "&amp;47;" must not be decoded a second time. */
    CHECK(vip_esi_src_resolve(pool, "/a?x=1&amp;47;x", 15, NULL, &out, &why)
          == APR_SUCCESS && strcmp(out, "/a?x=1&47;x") == 0
          && vip_esi_uri_normalize(pool, out, strlen(out), &again, &why)
          == APR_SUCCESS && strcmp(out, again) == 0,
          "uri: the resolved src is a fixed point");
}

static void test_chain(void)
{
    const char *chain[] = { "/page?a=1", "/frag/a//b", "/x%7e" };

    CHECK(vip_esi_chain_check(pool, chain, 0, "/page", 5) == NULL,
          "chain: top page may include");
    CHECK(vip_esi_chain_check(pool, chain, 3, "/c", 5) == NULL,
          "chain: new uri below depth may be fetched");
    CHECK(strcmp(vip_esi_chain_check(pool, chain, 3, "/c", 3), "depth") == 0,
          "chain: depth cap");
    CHECK(strcmp(vip_esi_chain_check(pool, chain, 3, "/page?a=1", 5),
                 "loop") == 0, "chain: self include is a loop");
    CHECK(strcmp(vip_esi_chain_check(pool, chain, 3, "/frag/a/b", 5),
                 "loop") == 0, "chain: loop found after normalising '//'");
    CHECK(strcmp(vip_esi_chain_check(pool, chain, 3, "/x~", 5), "loop") == 0,
          "chain: loop found after normalising %7e");
    CHECK(vip_esi_chain_check(pool, chain, 3, "/page?a=2", 5) == NULL,
          "chain: other query is no loop");
    {
        const char *amp[] = { "/p?a=1&amp;b" };
        CHECK(vip_esi_chain_check(pool, amp, 1, "/p?a=1&b", 5) == NULL,
              "chain: ancestors are URIs, entities not decoded");
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    test_constructs();
    test_malformed();
    test_api();
    test_split_property();
    test_src_policy();
    test_uri_normalize();
    test_chain();

    printf("%d passed, %d failed\n", passed, failed);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
