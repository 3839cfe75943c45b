/*
 * cache_esi.h - the streaming ESI parser of mod_vip_cache and the policy
 * that decides which include srcs may become subrequests.
 *
 * Pure code (APR only, no httpd): the ESI output filter feeds it bucket
 * data in whatever pieces the bucket brigade has, and gets back a stream of
 * events - text to pass on, includes to fetch, errors to count.  Feeding a
 * document in any chunking gives the same events as feeding it whole
 * (adjacent text events aside: a chunk end may split a text run in two).
 *
 * The grammar, the error behaviour, the src policy and the filter design
 * are documented in docs/esi.md.
 */
#ifndef VIP_CACHE_ESI_H
#define VIP_CACHE_ESI_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Default and bounds of the longest tag the parser holds back (bytes,
 * from '<' to '>' inclusive); a longer "tag" is passed on as text. */
#define VIP_ESI_MAX_TAG_DEFAULT   8192
#define VIP_ESI_MAX_TAG_MIN       64
#define VIP_ESI_MAX_TAG_MAX       65536
/* Default cap on includes per document (THREATS E4). */
#define VIP_ESI_MAX_INCLUDES_DEFAULT 64
/* Longest src accepted by vip_esi_src_resolve, before and after joining
 * with the parent path. */
#define VIP_ESI_SRC_MAX           2048

typedef enum {
    VIP_ESI_TEXT = 0,   /* bytes to pass on unchanged                        */
    VIP_ESI_INCLUDE,    /* <esi:include>: fetch src (or alt), insert here    */
    VIP_ESI_ERROR       /* malformed or unsupported markup, already handled  */
} vip_esi_event_type;

/* What went wrong, and what the parser did about it (docs/esi.md). */
typedef enum {
    VIP_ESI_E_TAG_TOO_LONG = 1, /* tag longer than max_tag: passed on as text */
    VIP_ESI_E_UNTERMINATED,     /* tag cut by the end of the document: text   */
    VIP_ESI_E_MALFORMED,        /* bad syntax inside an esi tag: tag dropped  */
    VIP_ESI_E_UNKNOWN_TAG,      /* esi element we do not implement: tag
                                   dropped, its content kept                  */
    VIP_ESI_E_NO_SRC,           /* include without (or with empty) src:
                                   dropped                                    */
    VIP_ESI_E_DUP_ATTR,         /* attribute given twice: include dropped     */
    VIP_ESI_E_UNKNOWN_ATTR,     /* include attribute we do not know: ignored,
                                   the include is kept                        */
    VIP_ESI_E_BAD_ONERROR,      /* onerror other than "continue": include kept
                                   without the continue flag                  */
    VIP_ESI_E_STRAY_CLOSE,      /* close tag with no open element: dropped    */
    VIP_ESI_E_NESTED_COMMENT,   /* <!--esi inside <!--esi: opener dropped     */
    VIP_ESI_E_UNCLOSED_REMOVE,  /* end of document inside <esi:remove>: the
                                   content after it was dropped               */
    VIP_ESI_E_UNCLOSED_COMMENT, /* end of document inside <!--esi: its content
                                   was processed                              */
    VIP_ESI_E_TOO_MANY_INCLUDES /* include beyond max_includes: dropped       */
} vip_esi_error;
#define VIP_ESI_E_COUNT 14      /* one more than the last kind */

typedef struct {
    vip_esi_event_type type;
    /* Document offset (bytes from the start of the first chunk) of the
     * text, or of the '<' that opened the include or the faulty markup. */
    apr_off_t offset;
    /* VIP_ESI_TEXT: data[0..len).  in_input: the span points into the
     * chunk passed to vip_esi_parse (zero copy, valid while the caller
     * keeps that chunk); 0: it points into the parser's own buffer (a
     * piece of a non-tag held back across a chunk end) and is valid only
     * during the callback. */
    const char *data;
    apr_size_t len;
    int in_input;
    /* VIP_ESI_INCLUDE: attribute values exactly as written (no entity or
     * percent decoding - vip_esi_src_resolve does that), NUL-terminated,
     * allocated from the parser's pool.  alt is NULL when absent. */
    const char *src;
    const char *alt;
    int onerror_continue;
    int index;              /* 0, 1, ... in document order */
    /* VIP_ESI_ERROR */
    vip_esi_error error;
} vip_esi_event;

/* Called for each event in document order; anything but APR_SUCCESS stops
 * the parser, and vip_esi_parse / vip_esi_finish return it. */
typedef apr_status_t (*vip_esi_emit_fn)(void *ctx, const vip_esi_event *ev);

typedef struct {
    apr_size_t max_tag;     /* 0: VIP_ESI_MAX_TAG_DEFAULT; clamped to the
                               MIN/MAX bounds above                       */
    int max_includes;       /* 0: VIP_ESI_MAX_INCLUDES_DEFAULT; < 0: none  */
} vip_esi_limits;

typedef struct vip_esi_parser vip_esi_parser;

/* A parser for one document.  Its tag buffer and the include strings come
 * from p; limits may be NULL (defaults). */
vip_esi_parser *vip_esi_parser_create(apr_pool_t *p,
                                      const vip_esi_limits *limits,
                                      vip_esi_emit_fn emit, void *ctx);

/* Feed the next len bytes of the document. */
apr_status_t vip_esi_parse(vip_esi_parser *ps, const char *data,
                           apr_size_t len);

/* End of document: flushes a held-back partial construct and reports
 * unclosed elements.  The parser accepts no input afterwards. */
apr_status_t vip_esi_finish(vip_esi_parser *ps);

/* Number of includes emitted and of errors reported so far. */
int vip_esi_include_count(const vip_esi_parser *ps);
int vip_esi_error_count(const vip_esi_parser *ps);

/* A short stable name of an error kind for logs and counters
 * ("tag_too_long", "malformed", ...). */
const char *vip_esi_error_name(vip_esi_error e);

/*
 * A ready-made collector for the parse-whole-page-then-assemble filter:
 * pass vip_esi_collect as the emit function and a vip_esi_doc as ctx.
 * Every event is appended to doc->events (vip_esi_event); text that is not
 * in the caller's input is copied into doc->pool, so after vip_esi_finish
 * the array stays valid as long as the pool and the caller's chunks do.
 * Adjacent text events are not merged (their spans may live in different
 * buckets).  doc->includes counts the include events.
 */
typedef struct {
    apr_pool_t *pool;
    apr_array_header_t *events;
    int includes;
    int errors;
} vip_esi_doc;

vip_esi_doc *vip_esi_doc_make(apr_pool_t *p);
apr_status_t vip_esi_collect(void *ctx, const vip_esi_event *ev);

/*
 * The src policy (THREATS E2): turn an include src (or alt) as written in
 * the page into the URI of a same-site subrequest, or refuse it.
 *
 * Accepted: "/path[?query]" (absolute path on this site) and "path[?query]"
 * relative to the directory of parent_path (the parent's encoded path, as
 * in r->parsed_uri.path; may be NULL when only absolute srcs are wanted).
 * "&amp;" is decoded to '&'; any other entity is refused.  Runs of '/' in
 * the path are merged.  Percent escapes are kept as written, but checked:
 * the decoded path must be clean too.
 *
 * Returns APR_SUCCESS with *out (from p) the path and query, or APR_EINVAL
 * with *reason one of: "empty", "too_long", "scheme", "network_path",
 * "control_char", "space", "backslash", "bad_char", "entity", "bad_escape",
 * "encoded_slash", "encoded_control", "double_encoding", "dot_segment",
 * "fragment", "no_parent".
 */
apr_status_t vip_esi_src_resolve(apr_pool_t *p, const char *src,
                                 apr_size_t len, const char *parent_path,
                                 char **out, const char **reason);

/*
 * The URI layer of vip_esi_src_resolve alone, for URIs that are not
 * markup (no entity decoding: '&' is literal): an absolute "/path[?query]"
 * checked and put in the same normal form.  The output of
 * vip_esi_src_resolve is a fixed point of this function, so fragment cache
 * keys and loop checks can be computed from either.  Same reason codes.
 */
apr_status_t vip_esi_uri_normalize(apr_pool_t *p, const char *uri,
                                   apr_size_t len, char **out,
                                   const char **reason);

/*
 * What the filter needs for THREATS E3: may a fragment with resolved uri
 * be fetched below the ancestors chain[0..n) (the top page first, each
 * entry the URI as requested, e.g. r->unparsed_uri up the r->main chain)?
 * Returns "depth" when n >= max_depth, "loop" when uri equals an ancestor
 * (both compared after vip_esi_uri_normalize; a URI that does not
 * normalise compares as written), NULL when the fetch may go ahead.
 */
const char *vip_esi_chain_check(apr_pool_t *p, const char *const *chain,
                                int n, const char *uri, int max_depth);

#endif
