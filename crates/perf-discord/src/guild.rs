//! The server the bot is tested on: a guild, its text channels and its members, made
//! from the message database's content profile so the bot sees the server it answers
//! about.

use perf_core::ContentProfile;
use serde_json::{json, Value};

/// Snowflakes start here (2021-ish Discord ids, 18 digits): ids look like Discord's and
/// never collide with a small number a bot might use as a sentinel.
const SNOWFLAKE_BASE: u64 = 900_000_000_000_000_000;

/// A text channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Snowflake id.
    pub id: u64,
    /// Name, without `#`.
    pub name: String,
}

/// A member of the guild (a user who sends queries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Snowflake id.
    pub id: u64,
    /// User name.
    pub name: String,
}

/// A guild with its channels and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guild {
    /// Snowflake id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Text channels, at least one.
    pub channels: Vec<Channel>,
    /// Members, at least one (besides the bot).
    pub members: Vec<Member>,
}

/// Most channels and members a guild is made with: a large export has thousands of
/// users, and every one of them would be in every GUILD_CREATE.
pub const MAX_GUILD_MEMBERS: usize = 1_000;
/// Most channels (Discord's own limit is 500).
pub const MAX_GUILD_CHANNELS: usize = 500;

impl Guild {
    /// A guild named `name` with the channels and users of `profile` (most active first,
    /// capped at [`MAX_GUILD_CHANNELS`] and [`MAX_GUILD_MEMBERS`]); a `general` channel and
    /// a `perf-user` member when the profile has none.
    pub fn from_profile(name: &str, profile: &ContentProfile) -> Self {
        let channels: Vec<String> = profile
            .channels
            .iter()
            .take(MAX_GUILD_CHANNELS)
            .map(|c| c.name.clone())
            .collect();
        let users: Vec<String> = profile
            .users
            .iter()
            .take(MAX_GUILD_MEMBERS)
            .map(|u| u.name.clone())
            .collect();
        Self::new(name, channels, users)
    }

    /// A guild with these channel and member names; ids are assigned in order.
    pub fn new(name: &str, channels: Vec<String>, members: Vec<String>) -> Self {
        let mut channels = channels;
        if channels.is_empty() {
            channels.push("general".to_owned());
        }
        let mut members = members;
        if members.is_empty() {
            members.push("perf-user".to_owned());
        }
        Self {
            id: SNOWFLAKE_BASE + 1,
            name: name.to_owned(),
            channels: channels
                .into_iter()
                .enumerate()
                .map(|(i, name)| Channel {
                    id: SNOWFLAKE_BASE + 1_000 + i as u64,
                    name,
                })
                .collect(),
            members: members
                .into_iter()
                .enumerate()
                .map(|(i, name)| Member {
                    id: SNOWFLAKE_BASE + 100_000 + i as u64,
                    name,
                })
                .collect(),
        }
    }

    /// The channel named `name` (with or without `#`), or the first channel.
    pub fn channel_or_first(&self, name: Option<&str>) -> &Channel {
        name.map(|n| n.trim_start_matches('#'))
            .and_then(|n| self.channels.iter().find(|c| c.name == n))
            .unwrap_or(&self.channels[0])
    }

    /// The channel named `name` (with or without `#`); a query that names none (or one
    /// the guild lacks) goes to a channel chosen by a stable hash of `key`, so load spreads
    /// over the server's channels as a real server's does.
    pub fn channel_for(&self, name: Option<&str>, key: &str) -> &Channel {
        name.map(|n| n.trim_start_matches('#'))
            .and_then(|n| self.channels.iter().find(|c| c.name == n))
            .unwrap_or_else(|| &self.channels[(fnv(key) % self.channels.len() as u64) as usize])
    }

    /// The channel with this id.
    pub fn channel(&self, id: u64) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The member named `name`, or one chosen by a stable hash of the name (a query's user
    /// that is not in the guild still always speaks as the same member), or the first.
    pub fn member_for(&self, name: Option<&str>) -> &Member {
        let Some(name) = name else {
            return &self.members[0];
        };
        if let Some(m) = self.members.iter().find(|m| m.name == name) {
            return m;
        }
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.members[(h % self.members.len() as u64) as usize]
    }

    /// The channel object of the REST API and of GUILD_CREATE.
    pub(crate) fn channel_json(&self, c: &Channel, position: usize) -> Value {
        json!({
            "id": c.id.to_string(),
            "type": 0,
            "guild_id": self.id.to_string(),
            "name": c.name,
            "position": position,
            "permission_overwrites": [],
            "nsfw": false,
            "topic": null,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "parent_id": null,
            "flags": 0
        })
    }

    /// The guild object of `GET /guilds/{id}` (no channels or members, as Discord).
    pub(crate) fn guild_json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "icon": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": self.members[0].id.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [everyone_role(self.id)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": false,
            "approximate_member_count": self.members.len() + 1
        })
    }

    /// The GUILD_CREATE payload: the guild with its channels and members, the bot
    /// included.
    pub(crate) fn guild_create_json(&self, bot: &BotUser) -> Value {
        let mut g = self.guild_json();
        let Some(obj) = g.as_object_mut() else {
            return g;
        };
        obj.remove("approximate_member_count");
        let mut members: Vec<Value> = self
            .members
            .iter()
            .map(|m| member_json(&user_json(m.id, &m.name, false)))
            .collect();
        members.push(member_json(&bot.json()));
        obj.insert("joined_at".into(), json!(TIMESTAMP));
        obj.insert("large".into(), json!(false));
        obj.insert("unavailable".into(), json!(false));
        obj.insert("member_count".into(), json!(members.len()));
        obj.insert("members".into(), Value::Array(members));
        obj.insert(
            "channels".into(),
            Value::Array(
                self.channels
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.channel_json(c, i))
                    .collect(),
            ),
        );
        obj.insert("threads".into(), json!([]));
        obj.insert("presences".into(), json!([]));
        obj.insert("voice_states".into(), json!([]));
        obj.insert("stage_instances".into(), json!([]));
        obj.insert("guild_scheduled_events".into(), json!([]));
        obj.insert("soundboard_sounds".into(), json!([]));
        g
    }
}

/// FNV-1a: a stable hash (the same channel and member for a query in every run).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The fixed timestamp of joins and of messages' `edited_timestamp` base.
pub(crate) const TIMESTAMP: &str = "2024-01-01T00:00:00.000000+00:00";

/// The bot's own user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUser {
    /// Snowflake id (also the application id).
    pub id: u64,
    /// User name.
    pub name: String,
}

impl BotUser {
    pub(crate) fn json(&self) -> Value {
        user_json(self.id, &self.name, true)
    }
}

/// A user object.
pub(crate) fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": bot,
        "system": false,
        "public_flags": 0,
        "flags": 0
    })
}

/// A guild member object wrapping `user`.
pub(crate) fn member_json(user: &Value) -> Value {
    json!({
        "user": user,
        "nick": null,
        "avatar": null,
        "roles": [],
        "joined_at": TIMESTAMP,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false
    })
}

/// The `@everyone` role (its id is the guild's), allowed to read and send.
fn everyone_role(guild_id: u64) -> Value {
    json!({
        "id": guild_id.to_string(),
        "name": "@everyone",
        "color": 0,
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 0,
        // View channels, send messages, embed links, attach files, read history, add
        // reactions, use external emojis, mention everyone: a bot that checks its
        // permissions finds them.
        "permissions": "2251799813685247",
        "managed": false,
        "mentionable": false,
        "flags": 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_stable_channels_and_members() {
        let g = Guild::new(
            "s",
            vec!["dev-help".into(), "general".into()],
            vec!["ana".into(), "bo".into()],
        );
        assert_eq!(g.channel_or_first(Some("#general")).name, "general");
        assert_eq!(g.channel_or_first(Some("nope")).name, "dev-help");
        assert_eq!(g.channel_or_first(None).name, "dev-help");
        assert_eq!(g.member_for(Some("bo")).name, "bo");
        // Queries that name no channel spread over the channels, each always to the same.
        let ids: Vec<String> = (0..20).map(|i| format!("std-{i:04}")).collect();
        let used: std::collections::HashSet<u64> =
            ids.iter().map(|id| g.channel_for(None, id).id).collect();
        assert_eq!(used.len(), 2, "both channels get queries");
        assert_eq!(
            g.channel_for(None, "std-0003"),
            g.channel_for(None, "std-0003")
        );
        assert_eq!(g.channel_for(Some("general"), "std-0003").name, "general");
        let a = g.member_for(Some("sim-user-03")).id;
        assert_eq!(a, g.member_for(Some("sim-user-03")).id, "stable");
        assert_ne!(g.channels[0].id, g.channels[1].id);
        let empty = Guild::new("s", vec![], vec![]);
        assert_eq!(empty.channels.len(), 1);
        assert_eq!(empty.members.len(), 1);
    }
}
