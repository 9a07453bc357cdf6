/*
 * Intrusive doubly linked lists: the node lives in the element, so linking
 * never allocates and unlinking is O(1). A list's head is a node too
 * (circular: an empty list points to itself). Not thread-safe: the owner
 * of the list says which lock guards it.
 */
#ifndef PL_LIST_H
#define PL_LIST_H

#include <stddef.h>

#include "core/check.h"

typedef struct pl_list {
    struct pl_list *prev, *next;
} pl_list;

/* The element that holds node `p` in its field `field`. */
#define pl_container_of(p, type, field) ((type *)((char *)(p)-offsetof(type, field)))

/* For every node of the list at head; the body must not unlink `it`. */
#define pl_list_each(it, head) for (pl_list *it = (head)->next; it != (head); it = it->next)

static inline void pl_list_init(pl_list *node)
{
    node->prev = node->next = node;
}

static inline int pl_list_empty(const pl_list *head)
{
    return head->next == head;
}

/* Whether node is in some list (nodes out of lists point to themselves). */
static inline int pl_list_linked(const pl_list *node)
{
    return node->next != node;
}

static inline void pl_list_push_back(pl_list *head, pl_list *node)
{
    pl_assert(!pl_list_linked(node));
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void pl_list_remove(pl_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    pl_list_init(node);
}

#endif
