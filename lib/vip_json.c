/*
 * vip_json.c - strict JSON (RFC 8259) on top of json-c.
 *
 * json-c is lenient even with JSON_TOKENER_STRICT: it takes single-quoted
 * strings, raw control characters in strings, NaN and Infinity, "1." and
 * silently keeps the last of duplicate object members.  Two parsers that
 * disagree on a signed token are an authentication bypass waiting to
 * happen, so this file owns the strict reading: a small lexical pass over
 * the raw text checks every token against the RFC grammar and counts the
 * member separators (':' outside strings, exactly one per object member);
 * json-c then builds the tree, capping nesting; finally the members in the
 * tree are counted and any difference from the lexical count means json-c
 * collapsed duplicates (including keys that differ only after a \u0000,
 * which json-c's C-string keys cannot tell apart).
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include "vip_json.h"

static const char err_invalid[] = "invalid JSON";
static const char err_deep[] = "too deep";
static const char err_dup[] = "duplicate member";
static const char err_trailing[] = "trailing data";

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A number or literal must be followed by a delimiter, otherwise "01",
 * "1true" or "nullx" would lex as two tokens and leave the rejection to
 * json-c's structural rules. */
static int at_delimiter(const unsigned char *s, apr_size_t i, apr_size_t len)
{
    if (i == len) {
        return 1;
    }
    return is_ws(s[i]) || s[i] == ',' || s[i] == ']' || s[i] == '}'
           || s[i] == ':';
}

/* Scan a string starting at the opening quote s[*i]; leave *i after the
 * closing quote.  Raw bytes >= 0x80 are left to json-c's UTF-8 check. */
static int lex_string(const unsigned char *s, apr_size_t len, apr_size_t *i)
{
    apr_size_t k = *i + 1;

    while (k < len) {
        unsigned char c = s[k];

        if (c == '"') {
            *i = k + 1;
            return 0;
        }
        if (c < 0x20) {
            return -1;
        }
        if (c == '\\') {
            if (k + 1 >= len) {
                return -1;
            }
            c = s[k + 1];
            if (c == 'u') {
                if (k + 5 >= len || !is_hex(s[k + 2]) || !is_hex(s[k + 3])
                    || !is_hex(s[k + 4]) || !is_hex(s[k + 5])) {
                    return -1;
                }
                k += 6;
                continue;
            }
            if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
                return -1;
            }
            k += 2;
            continue;
        }
        k++;
    }
    return -1;
}

/* number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ]
 *          [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ] */
static int lex_number(const unsigned char *s, apr_size_t len, apr_size_t *i)
{
    apr_size_t k = *i;

    if (k < len && s[k] == '-') {
        k++;
    }
    if (k >= len || !is_digit(s[k])) {
        return -1;
    }
    if (s[k] == '0') {
        k++;
    }
    else {
        while (k < len && is_digit(s[k])) {
            k++;
        }
    }
    if (k < len && s[k] == '.') {
        k++;
        if (k >= len || !is_digit(s[k])) {
            return -1;
        }
        while (k < len && is_digit(s[k])) {
            k++;
        }
    }
    if (k < len && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < len && (s[k] == '+' || s[k] == '-')) {
            k++;
        }
        if (k >= len || !is_digit(s[k])) {
            return -1;
        }
        while (k < len && is_digit(s[k])) {
            k++;
        }
    }
    if (!at_delimiter(s, k, len)) {
        return -1;
    }
    *i = k;
    return 0;
}

static int lex_literal(const unsigned char *s, apr_size_t len, apr_size_t *i)
{
    static const char *const lits[] = { "true", "false", "null" };
    apr_size_t n;

    for (n = 0; n < sizeof(lits) / sizeof(lits[0]); n++) {
        apr_size_t l = strlen(lits[n]);

        if (len - *i >= l && memcmp(s + *i, lits[n], l) == 0
            && at_delimiter(s, *i + l, len)) {
            *i += l;
            return 0;
        }
    }
    return -1;
}

/* Check every token of buf against RFC 8259, count the ':' separators
 * and find where the first top-level value ends.  Structure (matching
 * brackets, comma placement) is json-c's job.  Returns 0, -1 for an
 * invalid token, -2 for a token after the first complete value. */
static int lex_check(const unsigned char *s, apr_size_t len,
                     apr_size_t *colons)
{
    apr_size_t i = 0;
    long depth = 0;
    int done = 0;

    *colons = 0;
    while (i < len) {
        unsigned char c = s[i];
        int rv = 0;

        if (is_ws(c)) {
            i++;
            continue;
        }
        if (done) {
            return -2;
        }
        if (c == '{' || c == '[') {
            depth++;
            i++;
        }
        else if (c == '}' || c == ']') {
            if (--depth < 0) {
                return -1;
            }
            i++;
        }
        else if (c == ',') {
            i++;
        }
        else if (c == ':') {
            (*colons)++;
            i++;
        }
        else if (c == '"') {
            rv = lex_string(s, len, &i);
        }
        else if (c == '-' || is_digit(c)) {
            rv = lex_number(s, len, &i);
        }
        else {
            rv = lex_literal(s, len, &i);
        }
        if (rv != 0) {
            return -1;
        }
        done = depth == 0;
    }
    return 0;
}

/* Members in all objects of the tree.  Recursion is bounded by json-c's
 * depth cap. */
static apr_size_t count_members(json_object *o)
{
    apr_size_t n = 0;

    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val) {
            (void)key;
            n += 1 + count_members(val);
        }
    }
    else if (json_object_is_type(o, json_type_array)) {
        size_t i, len = json_object_array_length(o);

        for (i = 0; i < len; i++) {
            n += count_members(json_object_array_get_idx(o, i));
        }
    }
    return n;
}

static apr_status_t json_put_cleanup(void *data)
{
    json_object_put(data);
    return APR_SUCCESS;
}

apr_status_t vip_json_parse(apr_pool_t *pool, const char *buf,
                            apr_size_t len, int max_depth,
                            json_object **out, const char **err)
{
    const unsigned char *s = (const unsigned char *)buf;
    struct json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;
    apr_size_t colons, end;

    *out = NULL;
    *err = err_invalid;
    if (buf == NULL || len == 0 || len >= INT_MAX) {
        return APR_EGENERAL;
    }
    switch (lex_check(s, len, &colons)) {
    case 0:
        break;
    case -2:
        *err = err_trailing;
        return APR_EGENERAL;
    default:
        return APR_EGENERAL;
    }
    if (max_depth <= 0 || max_depth > VIP_JSON_MAX_DEPTH) {
        max_depth = VIP_JSON_MAX_DEPTH;
    }
    tok = json_tokener_new_ex(max_depth);
    if (tok == NULL) {
        return APR_ENOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
                                | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    if (obj == NULL && jerr == json_tokener_continue) {
        /* A top-level number or literal ends only at the end of input;
         * a NUL byte is how json-c is told the input is complete (the
         * lexical pass refused any NUL inside buf). */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    else {
        end = json_tokener_get_parse_end(tok);
    }
    json_tokener_free(tok);
    if (obj == NULL) {
        *err = jerr == json_tokener_error_depth ? err_deep : err_invalid;
        return APR_EGENERAL;
    }
    while (end < len && is_ws(s[end])) {
        end++;
    }
    if (end != len) {
        json_object_put(obj);
        *err = err_trailing;
        return APR_EGENERAL;
    }
    if (count_members(obj) != colons) {
        json_object_put(obj);
        *err = err_dup;
        return APR_EGENERAL;
    }
    if (pool != NULL) {
        apr_pool_cleanup_register(pool, obj, json_put_cleanup,
                                  apr_pool_cleanup_null);
    }
    *out = obj;
    *err = NULL;
    return APR_SUCCESS;
}

int vip_json_get_string(json_object *o, const char *name, const char **s,
                        apr_size_t *len)
{
    json_object *v;
    int l;

    if (!json_object_object_get_ex(o, name, &v)) {
        return 0;
    }
    if (!json_object_is_type(v, json_type_string)) {
        return -1;
    }
    l = json_object_get_string_len(v);
    *s = json_object_get_string(v);
    *len = l < 0 ? 0 : (apr_size_t)l;
    return 1;
}
