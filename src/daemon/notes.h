/* A short note per person, kept in memory: their last denial (.custfs/why) or
 * their last explanation (.custfs/explain), so anyone can ask "why was I
 * denied?" with ordinary tools (R1.3, R4.2). Bounded: the oldest notes give
 * way. One mutex, taken only when a note is written or read. */
#ifndef CUSTFS_NOTES_H
#define CUSTFS_NOTES_H

#include <stddef.h>
#include <sys/types.h>

#define NOTES_MAX 512
#define NOTE_TEXT 4096

struct notes;

struct notes *notes_new(void);
void notes_free(struct notes *d);
void notes_record(struct notes *d, uid_t uid, const char *text);
/* Copies UID's note into OUT; returns its length, 0 if there is none. */
size_t notes_get(struct notes *d, uid_t uid, char *out, size_t cap);

#endif
