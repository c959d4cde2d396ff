/**
 * Realistic sample callback bodies, one per known command, for `imhookd send`. The three seed
 * commands use the examples of Tencent's own pages; the others follow Tencent's documented fields.
 *
 * @module
 */
import { type CommandPayloads, isKnownCommand, type KnownCommand } from "./commands.ts";

const GROUP_ID = "@TGS#2J4SZEAEL";
const COMMUNITY_ID = "@TGS#_@TGS#cQVLVHIM62CJ";
const TOPIC_ID = "@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic";
const TEXT_BODY = [{ MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } }];
const C2C_MSG = {
  From_Account: "jared",
  To_Account: "Jonh",
  MsgSeq: 48374,
  MsgRandom: 2837546,
  MsgTime: 1557481126,
  MsgKey: "48374_2837546_1557481126",
  OnlineOnlyFlag: 1,
  MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi, beauty" } }],
  CloudCustomData: "your cloud custom data",
};

/** A sample of payload type `P`: without `CallbackCommand` (added per call). */
type Sample<P> = { [F in keyof P as F extends "CallbackCommand" ? never : F]: P[F] };

/**
 * Bodies without CallbackCommand and EventTime (added per call); one for each command of
 * `commands.ts`, of its payload type.
 */
const SAMPLES: { readonly [K in KnownCommand]: Sample<CommandPayloads[K]> } = {
  "Group.CallbackBeforeCreateGroup": {
    Operator_Account: "leckie",
    Owner_Account: "leckie",
    Type: "Public",
    Name: "MyFirstGroup",
    CreatedGroupNum: 1,
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "peter" }],
  },
  "Group.CallbackAfterCreateGroup": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    Owner_Account: "leckie",
    Name: "MyFirstGroup",
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "peter" }],
    UserDefinedDataList: [{ Key: "UserDefined1", Value: "hello" }],
  },
  "Group.CallbackBeforeApplyJoinGroup": {
    GroupId: GROUP_ID,
    Type: "Public",
    Requestor_Account: "leckie",
  },
  "Group.CallbackBeforeInviteJoinGroup": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    DestinationMembers: [{ Member_Account: "jared" }, { Member_Account: "tommy" }],
  },
  "Group.CallbackAfterNewMemberJoin": {
    GroupId: GROUP_ID,
    Type: "Public",
    JoinType: "Apply",
    Operator_Account: "leckie",
    NewMemberList: [{ Member_Account: "jared" }, { Member_Account: "tommy" }],
  },
  "Group.CallbackAfterMemberExit": {
    GroupId: GROUP_ID,
    Type: "Public",
    ExitType: "Kicked",
    Operator_Account: "leckie",
    ExitMemberList: [{ Member_Account: "jared" }, { Member_Account: "tommy" }],
  },
  "Group.CallbackBeforeSendMsg": {
    GroupId: GROUP_ID,
    Type: "Public",
    From_Account: "jared",
    Operator_Account: "admin",
    Random: 123456,
    OnlineOnlyFlag: 0,
    MsgBody: TEXT_BODY,
    CloudCustomData: "your cloud custom data",
  },
  // The seed page's example (003).
  "Group.CallbackAfterSendMsg": {
    GroupId: GROUP_ID,
    Type: "Public",
    From_Account: "jared",
    Operator_Account: "admin",
    Random: 123456,
    MsgSeq: 123,
    MsgTime: 1490686222,
    OnlineOnlyFlag: 1,
    MsgBody: TEXT_BODY,
    CloudCustomData: "your cloud custom data",
  },
  "Group.CallbackSendMsgException": {
    GroupId: GROUP_ID,
    Type: "Public",
    From_Account: "jared",
    Operator_Account: "admin",
    Random: 123456,
    OnlineOnlyFlag: 0,
    MsgBody: TEXT_BODY,
    CloudCustomData: "your cloud custom data",
    ErrorCode: 10017,
    ErrorInfo: "sender has been muted",
  },
  "Group.CallbackAfterRecallMsg": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "admin",
    MsgSeqList: [{ MsgSeq: 123 }, { MsgSeq: 124 }],
  },
  "Group.CallbackAfterGroupFull": {
    GroupId: GROUP_ID,
  },
  "Group.CallbackAfterGroupDestroyed": {
    GroupId: GROUP_ID,
    Type: "Public",
    Owner_Account: "leckie",
    Name: "MyFirstGroup",
    MemberList: [{ Member_Account: "bob" }, { Member_Account: "peter" }],
  },
  // The seed page's most complete example (002).
  "Group.CallbackAfterGroupInfoChanged": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    Name: "NewGroupName",
    Introduction: "NewIntroduction",
    Notification: "NewNotification",
    FaceUrl: "NewFaceUrl",
    UserDefinedDataList: [
      { Key: "UserDefinedKey1", Value: "UserDefinedValue1" },
      { Key: "UserDefinedKey2", Value: "UserDefinedValue2" },
      { Key: "UserDefinedKey3", Value: "UserDefinedValue3" },
    ],
  },
  // The seed page's example (004).
  "Group.CallbackAfterGroupAttrChanged": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    OptionType: "set",
    GroupAttr: [{ key: "key1", value: "value1" }, { key: "key2", value: "values" }],
  },
  "Group.CallbackOnMemberStateChange": {
    GroupId: GROUP_ID,
    EventType: "Offline",
    MemberList: [{ Member_Account: "bob" }],
  },
  "Group.CallbackAfterMemberFieldChanged": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    Modified_Account: "bob",
    Role: "Admin",
    NameCard: "bob in the group",
  },
  "Group.CallbackAfterChangeGroupOwner": {
    GroupId: GROUP_ID,
    Type: "Public",
    Operator_Account: "leckie",
    OldOwner_Account: "leckie",
    NewOwner_Account: "bob",
  },
  "Group.CallbackAfterReadReceipt": {
    GroupId: GROUP_ID,
    Type: "Public",
    GroupMsgReceiptList: [
      { MsgSeq: 123, ReadNum: 2, UnreadNum: 1 },
      { MsgSeq: 124, ReadNum: 1, UnreadNum: 2 },
    ],
  },
  "Group.CallbackBeforeCreateTopic": {
    GroupId: COMMUNITY_ID,
    Type: "Community",
    Operator_Account: "leckie",
    TopicName: "TestTopic",
  },
  "Group.CallbackAfterCreateTopic": {
    GroupId: COMMUNITY_ID,
    Type: "Community",
    Operator_Account: "leckie",
    TopicId: TOPIC_ID,
    TopicName: "TestTopic",
  },
  "Group.CallbackAfterTopicDestroyed": {
    GroupId: COMMUNITY_ID,
    Type: "Community",
    Operator_Account: "leckie",
    TopicIdList: [TOPIC_ID],
  },
  "Group.CallbackAfterTopicInfoChanged": {
    GroupId: COMMUNITY_ID,
    Type: "Community",
    Operator_Account: "leckie",
    TopicId: TOPIC_ID,
    TopicName: "RenamedTopic",
  },
  "Group.CallbackOnDailyGroupQuotaAlarm": {
    QuotaUsed: 900000,
    Quota: 1000000,
  },
  "State.StateChange": {
    Info: { Action: "Login", To_Account: "leckie", Reason: "Register" },
    KickedDevice: [{ Platform: "Windows" }, { Platform: "Android" }],
  },
  "Profile.CallbackPortraitSet": {
    Operator_Account: "leckie",
    From_Account: "leckie",
    ProfileItem: [
      { Tag: "Tag_Profile_IM_Nick", Value: "MyNickName" },
      { Tag: "Tag_Profile_IM_Gender", Value: "Gender_Type_Male" },
    ],
  },
  "Sns.CallbackPrevFriendAdd": {
    Requester_Account: "leckie",
    From_Account: "leckie",
    AddType: "Add_Type_Both",
    ForceAddFlags: 0,
    FriendItem: [
      {
        To_Account: "bob",
        Remark: "bob",
        GroupName: "friends",
        AddSource: "AddSource_Type_Android",
      },
    ],
  },
  "Sns.CallbackPrevFriendResponse": {
    Requester_Account: "bob",
    From_Account: "bob",
    ResponseFriendItem: [
      {
        To_Account: "leckie",
        Remark: "leckie",
        TagName: "friends",
        ResponseAction: "Response_Action_Agree",
      },
    ],
  },
  "Sns.CallbackFriendAdd": {
    PairList: [{ From_Account: "leckie", To_Account: "bob", Initiator_Account: "leckie" }],
    ClientCmd: "friend_add",
    Admin_Account: "admin",
    ForceFlag: 0,
  },
  "Sns.CallbackFriendDelete": {
    PairList: [{ From_Account: "leckie", To_Account: "bob" }],
    ClientCmd: "friend_delete",
  },
  "Sns.CallbackBlackListAdd": {
    PairList: [{ From_Account: "leckie", To_Account: "bob" }],
    ClientCmd: "blacklist_add",
  },
  "Sns.CallbackBlackListDelete": {
    PairList: [{ From_Account: "leckie", To_Account: "bob" }],
    ClientCmd: "blacklist_delete",
  },
  "C2C.CallbackBeforeSendMsg": C2C_MSG,
  "C2C.CallbackAfterSendMsg": {
    ...C2C_MSG,
    SendMsgResult: 0,
    ErrorInfo: "send msg succeed",
    UnreadMsgNum: 160,
  },
  "C2C.CallbackAfterMsgReport": {
    Report_Account: "Jonh",
    Peer_Account: "jared",
    LastReadTime: 1557481127,
    UnreadMsgNum: 0,
  },
  "C2C.CallbackAfterMsgWithDraw": {
    From_Account: "jared",
    To_Account: "Jonh",
    MsgKey: "48374_2837546_1557481126",
    UnreadMsgNum: 159,
  },
};

/**
 * A realistic sample body for a known command (for `imhookd send`), with `CallbackCommand`
 * set and `EventTime` = `nowMs` (a number); a fresh object on each call. Unknown command:
 * undefined.
 */
export function sampleBody(command: string, nowMs: number): Record<string, unknown> | undefined {
  if (!isKnownCommand(command)) return undefined;
  const sample = SAMPLES[command as KnownCommand];
  return { CallbackCommand: command, ...structuredClone(sample), EventTime: nowMs };
}
