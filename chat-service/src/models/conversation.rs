//! The `conversations` table: a traveller and an expert, the message-id allocator and
//! both participants' read markers.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::ApiError;
use shared::db::DbConnection;
use shared::list::ListQuery;

use crate::schema::{conversations, messages};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = conversations)]
pub struct Conversation {
    pub id: i64,
    pub traveller_id: i64,
    pub expert_id: i64,
    pub created_at: NaiveDateTime,
    pub last_message_at: Option<NaiveDateTime>,
    pub last_activity_at: NaiveDateTime,
    pub last_message_id: i64,
    pub traveller_last_read_id: i64,
    pub expert_last_read_id: i64,
    pub traveller_unread: i64,
    pub expert_unread: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = conversations)]
pub struct NewConversation {
    pub traveller_id: i64,
    pub expert_id: i64,
    pub created_at: NaiveDateTime,
    pub last_activity_at: NaiveDateTime,
}

/// Which end of a conversation a participant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Traveller,
    Expert,
}

/// A participant's read marker after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMarker {
    pub last_read_id: i64,
    pub unread: i64,
}

impl Conversation {
    /// `user`'s side, or `None` when they are not a participant.
    pub fn side_of(&self, user: i64) -> Option<Side> {
        if user == self.traveller_id {
            Some(Side::Traveller)
        } else if user == self.expert_id {
            Some(Side::Expert)
        } else {
            None
        }
    }

    pub fn counterpart_of(&self, user: i64) -> i64 {
        if user == self.traveller_id {
            self.expert_id
        } else {
            self.traveller_id
        }
    }

    pub fn participants(&self) -> [i64; 2] {
        [self.traveller_id, self.expert_id]
    }

    /// (last read id, unread count) as `user` sees them.
    pub fn marker_of(&self, user: i64) -> ReadMarker {
        match self.side_of(user) {
            Some(Side::Traveller) => ReadMarker {
                last_read_id: self.traveller_last_read_id,
                unread: self.traveller_unread,
            },
            _ => ReadMarker {
                last_read_id: self.expert_last_read_id,
                unread: self.expert_unread,
            },
        }
    }

    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Conversation>> {
        conversations::table
            .find(id)
            .select(Conversation::as_select())
            .first(conn)
            .optional()
    }

    /// The conversation if `user` takes part in it; anyone else gets the same 404 as for a
    /// conversation that does not exist.
    pub fn find_for(conn: &mut DbConnection, id: i64, user: i64) -> Result<Conversation, ApiError> {
        Self::find(conn, id)?
            .filter(|c| c.side_of(user).is_some())
            .ok_or_else(|| ApiError::not_found("conversation"))
    }

    /// Takes the row lock (PostgreSQL; SQLite's write transaction already excludes other
    /// writers), so read markers and message ids change one transaction at a time.
    pub fn lock(conn: &mut DbConnection, id: i64) -> QueryResult<()> {
        diesel::update(conversations::table.find(id))
            .set(conversations::last_message_id.eq(conversations::last_message_id))
            .execute(conn)
            .map(drop)
    }

    pub fn find_pair(
        conn: &mut DbConnection,
        traveller_id: i64,
        expert_id: i64,
    ) -> QueryResult<Option<Conversation>> {
        conversations::table
            .filter(conversations::traveller_id.eq(traveller_id))
            .filter(conversations::expert_id.eq(expert_id))
            .select(Conversation::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, new: &NewConversation) -> QueryResult<Conversation> {
        let id: i64 = diesel::insert_into(conversations::table)
            .values(new)
            .returning(conversations::id)
            .get_result(conn)?;
        conversations::table
            .find(id)
            .select(Conversation::as_select())
            .first(conn)
    }

    /// A page of `user`'s conversations and how many there are in all.
    pub fn list_for(
        conn: &mut DbConnection,
        user: i64,
        query: &ListQuery,
    ) -> QueryResult<(i64, Vec<Conversation>)> {
        let mine = conversations::traveller_id
            .eq(user)
            .or(conversations::expert_id.eq(user));
        let count = conversations::table.filter(mine).count().get_result(conn)?;
        let mut page = conversations::table
            .filter(mine)
            .select(Conversation::as_select())
            .into_boxed();
        page = match (query.sort_by, query.descending()) {
            ("created_at", false) => {
                page.order((conversations::created_at.asc(), conversations::id.asc()))
            }
            ("created_at", true) => {
                page.order((conversations::created_at.desc(), conversations::id.desc()))
            }
            ("id", false) => page.order(conversations::id.asc()),
            ("id", true) => page.order(conversations::id.desc()),
            (_, false) => page.order((
                conversations::last_activity_at.asc(),
                conversations::id.asc(),
            )),
            (_, true) => page.order((
                conversations::last_activity_at.desc(),
                conversations::id.desc(),
            )),
        };
        let results = page.offset(query.offset).limit(query.limit).load(conn)?;
        Ok((count, results))
    }

    /// Every conversation of `user` with its last message id: where a new socket starts
    /// counting, so it is sent only what is new.
    pub fn cursors_for(conn: &mut DbConnection, user: i64) -> QueryResult<Vec<(i64, i64)>> {
        conversations::table
            .filter(
                conversations::traveller_id
                    .eq(user)
                    .or(conversations::expert_id.eq(user)),
            )
            .select((conversations::id, conversations::last_message_id))
            .load(conn)
    }

    /// The people `user` has a conversation with (who care whether `user` is online).
    pub fn counterparts_of(conn: &mut DbConnection, user: i64) -> QueryResult<Vec<i64>> {
        let experts: Vec<i64> = conversations::table
            .filter(conversations::traveller_id.eq(user))
            .select(conversations::expert_id)
            .load(conn)?;
        let travellers: Vec<i64> = conversations::table
            .filter(conversations::expert_id.eq(user))
            .select(conversations::traveller_id)
            .load(conn)?;
        Ok(experts.into_iter().chain(travellers).collect())
    }

    /// Moves `user`'s read marker forward to `upto` (never back) and recounts what is
    /// still unread. Run it inside a write transaction.
    pub fn mark_read(
        conn: &mut DbConnection,
        conversation: &Conversation,
        user: i64,
        upto: i64,
    ) -> QueryResult<ReadMarker> {
        let current = conversation.marker_of(user).last_read_id;
        let last_read_id = upto.max(current).min(conversation.last_message_id);
        let unread: i64 = messages::table
            .filter(messages::conversation_id.eq(conversation.id))
            .filter(messages::id.gt(last_read_id))
            .filter(messages::sender_id.ne(user))
            .count()
            .get_result(conn)?;
        let target = conversations::table.find(conversation.id);
        match conversation.side_of(user) {
            Some(Side::Traveller) => diesel::update(target)
                .set((
                    conversations::traveller_last_read_id.eq(last_read_id),
                    conversations::traveller_unread.eq(unread),
                ))
                .execute(conn)?,
            _ => diesel::update(target)
                .set((
                    conversations::expert_last_read_id.eq(last_read_id),
                    conversations::expert_unread.eq(unread),
                ))
                .execute(conn)?,
        };
        Ok(ReadMarker {
            last_read_id,
            unread,
        })
    }
}
