/* vtab_args.c - planning the arguments of a table-valued function (series.c style): its
 * arguments are hidden columns constrained with '=', one required and one optional. */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

int ext_plan_arguments(sqlite3_vtab *vtab, sqlite3_index_info *info, int required_col,
                       int optional_col, const char *missing_message) {
    int first = -1, second = -1, unusable = 0, seen_required = 0;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn != required_col && c->iColumn != optional_col) continue;
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (c->iColumn == required_col) seen_required = 1;
        if (!c->usable) {
            unusable = 1;
            continue;
        }
        if (c->iColumn == required_col && first < 0) first = i;
        if (c->iColumn == optional_col && second < 0) second = i;
    }
    if (!seen_required) {
        sqlite3_free(vtab->zErrMsg);
        vtab->zErrMsg = sqlite3_mprintf("%s", missing_message);
        return vtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    /* An argument that depends on a table joined later rules this plan out, so SQLite
     * picks a join order that supplies it. */
    if (unusable) return SQLITE_CONSTRAINT;
    int arg = 0;
    info->idxNum = 0;
    if (first >= 0) {
        info->aConstraintUsage[first].argvIndex = ++arg;
        info->aConstraintUsage[first].omit = 1;
        info->idxNum |= EXT_ARG_FIRST;
    }
    if (second >= 0) {
        info->aConstraintUsage[second].argvIndex = ++arg;
        info->aConstraintUsage[second].omit = 1;
        info->idxNum |= EXT_ARG_SECOND;
    }
    return SQLITE_OK;
}

int ext_vtab_fail(sqlite3_vtab *vtab, int rc, char *msg) {
    if (msg) ext_message_clean(msg);
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = msg;
    return msg ? rc : SQLITE_NOMEM;
}

int ext_declare_vtab(sqlite3 *db, const char *schema, char **err) {
    int rc = sqlite3_declare_vtab(db, schema);
    if (rc == SQLITE_OK) return rc;
    /* It fails when an interrupt lands while the statement is prepared: sqlite3_declare_vtab
     * then returns SQLITE_ERROR with the parser's message "interrupted". Report that as
     * an interrupt, as any other statement would, not as "vtable constructor failed". */
    const char *why = sqlite3_errmsg(db);
    *err = sqlite3_mprintf("%s", why);
    return strcmp(why, "interrupted") == 0 ? SQLITE_INTERRUPT : rc;
}
