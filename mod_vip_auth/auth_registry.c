/*
 * auth_registry.c - load and validate the tenant registry (JSON, json-c).
 *
 * Every rule is checked here, once, when httpd reads its configuration:
 * unknown fields, missing or mistyped fields, unknown plans, duplicate
 * tenants, key ids, key hashes and issuers, and each JWKS file.  An error
 * message names the file, the tenant (or issuer) and the field, so an
 * admin sees exactly what to fix from `apachectl -t`.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>

#include "vip_config.h"
#include "vip_json.h"
#include "auth_registry.h"

#define MAX_ID_LEN     64
#define MAX_SCOPE_LEN  128
#define MAX_SCOPES     64

typedef struct {
    apr_pool_t *p;
    vip_registry *reg;
    const char *base_dir;
    apr_hash_t *hashes;                 /* hex key hash -> key id */
    char *err;
} loader;

/* RFC 6749 scope-token: visible ASCII except '"' and '\'. */
static int valid_scope(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len < 1 || len > MAX_SCOPE_LEN) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

static apr_status_t fail(loader *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static apr_status_t fail(loader *l, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    l->err = apr_pvsprintf(l->p, fmt, ap);
    va_end(ap);
    return APR_EGENERAL;
}

/* Refuse members other than those listed: a typo must not silently drop
 * a setting such as "status": "suspended". */
static apr_status_t only_fields(loader *l, json_object *o, const char *where,
                                const char *const *allowed)
{
    json_object_object_foreach(o, key, val) {
        const char *const *a;
        (void)val;
        for (a = allowed; *a; a++) {
            if (strcmp(*a, key) == 0) {
                break;
            }
        }
        if (!*a) {
            return fail(l, "%s: unknown field '%s'", where, key);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t get_string(loader *l, json_object *o, const char *where,
                               const char *field, int required,
                               const char **out)
{
    const char *s;
    apr_size_t len;
    int r = vip_json_get_string(o, field, &s, &len);

    *out = NULL;
    if (r == 0) {
        return required ? fail(l, "%s: missing field '%s'", where, field)
                        : APR_SUCCESS;
    }
    if (r < 0 || len == 0 || strlen(s) != len) {
        return fail(l, "%s: field '%s' must be a non-empty string", where, field);
    }
    *out = apr_pstrmemdup(l->p, s, len);
    return APR_SUCCESS;
}

static apr_status_t get_id(loader *l, json_object *o, const char *where,
                           const char *field, int required, const char **out)
{
    apr_status_t rv = get_string(l, o, where, field, required, out);

    if (rv == APR_SUCCESS && *out && !vip_id_valid(*out, 1, MAX_ID_LEN)) {
        return fail(l, "%s: field '%s' must be 1-%d characters of "
                    "[A-Za-z0-9._-], got '%s'", where, field, MAX_ID_LEN, *out);
    }
    return rv;
}

/* A scope list: array of scope tokens, no duplicates.  When allowed is
 * given every scope must be in it. */
static apr_status_t get_scopes(loader *l, json_object *o, const char *where,
                               apr_hash_t *allowed, apr_hash_t **set,
                               const char **joined)
{
    json_object *v;
    size_t i, n;
    char *buf = "";

    *set = apr_hash_make(l->p);
    *joined = NULL;
    if (!json_object_object_get_ex(o, "scopes", &v)) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_array)) {
        return fail(l, "%s: field 'scopes' must be an array of strings", where);
    }
    n = json_object_array_length(v);
    if (n > MAX_SCOPES) {
        return fail(l, "%s: field 'scopes' has %" APR_SIZE_T_FMT " entries, at most %d allowed",
                    where, n, MAX_SCOPES);
    }
    for (i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(v, i);
        const char *str;
        if (!json_object_is_type(s, json_type_string)
            || !valid_scope(json_object_get_string(s),
                            (apr_size_t)json_object_get_string_len(s))) {
            return fail(l, "%s: scopes[%" APR_SIZE_T_FMT "] must be a scope token (1-%d visible "
                        "characters, no spaces, quotes or backslashes)",
                        where, i, MAX_SCOPE_LEN);
        }
        str = apr_pstrdup(l->p, json_object_get_string(s));
        if (apr_hash_get(*set, str, APR_HASH_KEY_STRING)) {
            return fail(l, "%s: scope '%s' listed twice", where, str);
        }
        if (allowed && !apr_hash_get(allowed, str, APR_HASH_KEY_STRING)) {
            return fail(l, "%s: scope '%s' is not one of the tenant's scopes",
                        where, str);
        }
        apr_hash_set(*set, str, APR_HASH_KEY_STRING, str);
        buf = i ? apr_pstrcat(l->p, buf, " ", str, NULL) : (char *)str;
    }
    *joined = buf;
    return APR_SUCCESS;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static apr_status_t load_trust(loader *l, json_object *o, const char *where,
                               const vip_tenant *tenant)
{
    static const char *const fields[] = {
        "issuer", "audience", "jwks_file", "tenant_claim", NULL };
    vip_trust *t = apr_pcalloc(l->p, sizeof(*t));
    const char *file, *path;
    char *jerr = NULL;
    apr_status_t rv;

    if (!json_object_is_type(o, json_type_object)) {
        return fail(l, "%s must be an object", where);
    }
    if ((rv = only_fields(l, o, where, fields)) != APR_SUCCESS
        || (rv = get_string(l, o, where, "issuer", 1, &t->issuer))
        || (rv = get_string(l, o, where, "audience", 0, &t->audience))
        || (rv = get_string(l, o, where, "jwks_file", 1, &file))
        || (rv = get_id(l, o, where, "tenant_claim", 0, &t->tenant_claim))) {
        return rv;
    }
    if (!t->tenant_claim) {
        t->tenant_claim = "tid";
    }
    t->tenant = tenant;
    if (apr_hash_get(l->reg->issuers, t->issuer, APR_HASH_KEY_STRING)) {
        return fail(l, "%s: issuer '%s' is already declared; each issuer may "
                    "appear once", where, t->issuer);
    }
    if (apr_filepath_merge((char **)&path, l->base_dir, file,
                           APR_FILEPATH_NATIVE, l->p) != APR_SUCCESS) {
        return fail(l, "%s: field 'jwks_file': bad path '%s'", where, file);
    }
    if (vip_jwks_load_file(l->p, path, &t->keys, &jerr) != APR_SUCCESS) {
        return fail(l, "%s: field 'jwks_file' (%s): %s", where, path,
                    jerr ? jerr : "unusable");
    }
    apr_hash_set(l->reg->issuers, t->issuer, APR_HASH_KEY_STRING, t);
    return APR_SUCCESS;
}

static apr_status_t load_apikey(loader *l, json_object *o, const char *where,
                                vip_tenant *tenant)
{
    static const char *const fields[] = { "id", "sha256", "scopes", NULL };
    vip_apikey *k = apr_pcalloc(l->p, sizeof(*k));
    const char *hex, *owner;
    apr_hash_t *set;
    apr_status_t rv;
    int i;

    if (!json_object_is_type(o, json_type_object)) {
        return fail(l, "%s must be an object", where);
    }
    if ((rv = only_fields(l, o, where, fields)) != APR_SUCCESS
        || (rv = get_id(l, o, where, "id", 1, &k->id))
        || (rv = get_string(l, o, where, "sha256", 1, &hex))
        || (rv = get_scopes(l, o, where, tenant->scope_set, &set, &k->scopes))) {
        return rv;
    }
    if (strlen(hex) != 2 * VIP_APIKEY_HASH_LEN) {
        return fail(l, "%s: field 'sha256' must be %d lowercase hex digits "
                    "(the SHA-256 of the whole key, see tools/vip-keygen), "
                    "got %" APR_SIZE_T_FMT " characters", where, 2 * VIP_APIKEY_HASH_LEN,
                    strlen(hex));
    }
    for (i = 0; i < VIP_APIKEY_HASH_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return fail(l, "%s: field 'sha256' must be lowercase hex digits",
                        where);
        }
        k->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    if (apr_hash_get(l->reg->apikeys, k->id, APR_HASH_KEY_STRING)) {
        return fail(l, "%s: key id '%s' is already used; key ids are unique "
                    "across all tenants", where, k->id);
    }
    if ((owner = apr_hash_get(l->hashes, hex, APR_HASH_KEY_STRING))) {
        return fail(l, "%s: the same key hash is already registered for key "
                    "'%s'", where, owner);
    }
    if (!k->scopes) {
        k->scopes = tenant->scopes;
    }
    k->tenant = tenant;
    apr_hash_set(l->hashes, hex, APR_HASH_KEY_STRING, k->id);
    apr_hash_set(l->reg->apikeys, k->id, APR_HASH_KEY_STRING, k);
    return APR_SUCCESS;
}

static apr_status_t load_tenant(loader *l, json_object *o, size_t idx)
{
    static const char *const fields[] = {
        "id", "plan", "status", "scopes", "api_keys", "jwt", "name", NULL };
    vip_tenant *t = apr_pcalloc(l->p, sizeof(*t));
    const char *where = apr_psprintf(l->p, "tenants[%" APR_SIZE_T_FMT "]", idx);
    const char *status, *name;
    json_object *v;
    apr_status_t rv;
    size_t i;

    if (!json_object_is_type(o, json_type_object)) {
        return fail(l, "%s must be an object", where);
    }
    if ((rv = get_id(l, o, where, "id", 1, &t->id)) != APR_SUCCESS) {
        return rv;
    }
    where = apr_psprintf(l->p, "tenant '%s'", t->id);
    if ((rv = only_fields(l, o, where, fields))
        || (rv = get_string(l, o, where, "name", 0, &name))
        || (rv = get_id(l, o, where, "plan", 1, &t->plan))
        || (rv = get_string(l, o, where, "status", 0, &status))
        || (rv = get_scopes(l, o, where, NULL, &t->scope_set, &t->scopes))) {
        return rv;
    }
    if (apr_hash_get(l->reg->tenants, t->id, APR_HASH_KEY_STRING)) {
        return fail(l, "%s: duplicate tenant id", where);
    }
    if (!apr_hash_get(l->reg->plans, t->plan, APR_HASH_KEY_STRING)) {
        return fail(l, "%s: field 'plan': unknown plan '%s' (add it to the "
                    "top-level \"plans\" list)", where, t->plan);
    }
    if (!status || strcmp(status, "active") == 0) {
        t->suspended = 0;
    }
    else if (strcmp(status, "suspended") == 0) {
        t->suspended = 1;
    }
    else {
        return fail(l, "%s: field 'status' must be \"active\" or \"suspended\", "
                    "got '%s'", where, status);
    }
    if (!t->scopes) {
        t->scopes = "";
    }
    apr_hash_set(l->reg->tenants, t->id, APR_HASH_KEY_STRING, t);
    l->reg->ntenants++;

    if (json_object_object_get_ex(o, "api_keys", &v)) {
        if (!json_object_is_type(v, json_type_array)) {
            return fail(l, "%s: field 'api_keys' must be an array", where);
        }
        for (i = 0; i < json_object_array_length(v); i++) {
            rv = load_apikey(l, json_object_array_get_idx(v, i),
                             apr_psprintf(l->p, "%s: api_keys[%" APR_SIZE_T_FMT "]", where, i),
                             t);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    if (json_object_object_get_ex(o, "jwt", &v)) {
        rv = load_trust(l, v, apr_psprintf(l->p, "%s: jwt", where), t);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t vip_registry_parse(apr_pool_t *p, const char *buf,
                                apr_size_t len, const char *base_dir,
                                vip_registry **out, char **err)
{
    static const char *const fields[] = {
        "version", "plans", "issuers", "tenants", NULL };
    loader l = { p, NULL, base_dir, NULL, NULL };
    json_object *root, *v;
    const char *jerr = NULL;
    apr_status_t rv;
    size_t i;

    *out = NULL;
    l.reg = apr_pcalloc(p, sizeof(*l.reg));
    l.reg->plans = apr_hash_make(p);
    l.reg->tenants = apr_hash_make(p);
    l.reg->apikeys = apr_hash_make(p);
    l.reg->issuers = apr_hash_make(p);
    l.hashes = apr_hash_make(p);

    if (vip_json_parse(p, buf, len, VIP_JSON_MAX_DEPTH, &root, &jerr)
        != APR_SUCCESS) {
        *err = apr_psprintf(p, "not valid JSON: %s", jerr ? jerr : "?");
        return APR_EGENERAL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        *err = "the registry must be a JSON object";
        return APR_EGENERAL;
    }
    if ((rv = only_fields(&l, root, "registry", fields)) != APR_SUCCESS) {
        goto failed;
    }
    if (json_object_object_get_ex(root, "version", &v)
        && !(json_object_is_type(v, json_type_int) && json_object_get_int(v) == 1)) {
        rv = fail(&l, "registry: field 'version' must be 1");
        goto failed;
    }
    if (!json_object_object_get_ex(root, "plans", &v)
        || !json_object_is_type(v, json_type_array)
        || json_object_array_length(v) == 0) {
        rv = fail(&l, "registry: field 'plans' must be a non-empty array of "
                  "plan names");
        goto failed;
    }
    for (i = 0; i < json_object_array_length(v); i++) {
        json_object *s = json_object_array_get_idx(v, i);
        const char *plan = json_object_get_string(s);
        if (!json_object_is_type(s, json_type_string)
            || !vip_id_valid(plan, 1, MAX_ID_LEN)
            || strlen(plan) != (size_t)json_object_get_string_len(s)) {
            rv = fail(&l, "registry: plans[%" APR_SIZE_T_FMT "] must be 1-%d characters of "
                      "[A-Za-z0-9._-]", i, MAX_ID_LEN);
            goto failed;
        }
        if (apr_hash_get(l.reg->plans, plan, APR_HASH_KEY_STRING)) {
            rv = fail(&l, "registry: plan '%s' listed twice", plan);
            goto failed;
        }
        plan = apr_pstrdup(p, plan);
        apr_hash_set(l.reg->plans, plan, APR_HASH_KEY_STRING, plan);
    }
    if (!json_object_object_get_ex(root, "tenants", &v)
        || !json_object_is_type(v, json_type_array)) {
        rv = fail(&l, "registry: field 'tenants' must be an array");
        goto failed;
    }
    for (i = 0; i < json_object_array_length(v); i++) {
        if ((rv = load_tenant(&l, json_object_array_get_idx(v, i), i))
            != APR_SUCCESS) {
            goto failed;
        }
    }
    if (json_object_object_get_ex(root, "issuers", &v)) {
        if (!json_object_is_type(v, json_type_array)) {
            rv = fail(&l, "registry: field 'issuers' must be an array");
            goto failed;
        }
        for (i = 0; i < json_object_array_length(v); i++) {
            rv = load_trust(&l, json_object_array_get_idx(v, i),
                            apr_psprintf(p, "issuers[%" APR_SIZE_T_FMT "]", i), NULL);
            if (rv != APR_SUCCESS) {
                goto failed;
            }
        }
    }
    *out = l.reg;
    return APR_SUCCESS;

failed:
    *err = l.err;
    return rv;
}

apr_status_t vip_registry_load(apr_pool_t *p, const char *path,
                               vip_registry **out, char **err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got;
    char *buf, *dir, *slash;
    apr_status_t rv;

    *out = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        char msg[120];
        *err = apr_psprintf(p, "cannot open: %s",
                            apr_strerror(rv, msg, sizeof(msg)));
        return rv;
    }
    if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS
        || fi.size > VIP_REGISTRY_MAX_SIZE) {
        apr_file_close(f);
        *err = apr_psprintf(p, "unreadable or larger than %d bytes",
                            VIP_REGISTRY_MAX_SIZE);
        return rv != APR_SUCCESS ? rv : APR_EGENERAL;
    }
    buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !(rv == APR_EOF && fi.size == 0)) {
        *err = "read error";
        return rv;
    }
    buf[got] = '\0';
    dir = apr_pstrdup(p, path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    }
    else {
        dir = ".";
    }
    rv = vip_registry_parse(p, buf, got, *dir ? dir : "/", out, err);
    if (rv == APR_SUCCESS) {
        (*out)->path = apr_pstrdup(p, path);
    }
    return rv;
}

const vip_tenant *vip_registry_tenant(const vip_registry *reg, const char *id)
{
    return apr_hash_get(reg->tenants, id, APR_HASH_KEY_STRING);
}

const vip_apikey *vip_registry_apikey(const vip_registry *reg, const char *id)
{
    return apr_hash_get(reg->apikeys, id, APR_HASH_KEY_STRING);
}

const vip_trust *vip_registry_trust(const vip_registry *reg, const char *iss)
{
    return apr_hash_get(reg->issuers, iss, APR_HASH_KEY_STRING);
}

const char *vip_tenant_filter_scopes(apr_pool_t *p, const vip_tenant *t,
                                     const char *scopes)
{
    char *copy = apr_pstrdup(p, scopes), *tok, *last = NULL;
    char *outbuf = apr_palloc(p, strlen(scopes) + 1), *o = outbuf;

    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        if (apr_hash_get(t->scope_set, tok, APR_HASH_KEY_STRING)) {
            apr_size_t n = strlen(tok);
            if (o != outbuf) {
                *o++ = ' ';
            }
            memcpy(o, tok, n);
            o += n;
        }
    }
    *o = '\0';
    return outbuf;
}
