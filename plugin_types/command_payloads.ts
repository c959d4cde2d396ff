/**
 * The payload type of each known command, for plugins (`CommandEvent<C>`). Written from
 * imhookd's command table by `deno task plugin-types`: do not edit by hand.
 *
 * @module
 */
import type * as P from "./payloads.ts";

/** The payload type of each known command. */
export interface CommandPayloads {
  "Alert.RequestOverLimit": P.RequestOverLimitPayload;
  "State.StateChange": P.StateChangePayload;
  "Profile.CallbackPortraitSet": P.PortraitSetPayload;
  "Sns.CallbackPrevFriendAdd": P.SnsPrevFriendAddPayload;
  "Sns.CallbackPrevFriendResponse": P.SnsPrevFriendResponsePayload;
  "Sns.CallbackFriendAdd": P.SnsPayload;
  "Sns.CallbackFriendDelete": P.SnsPayload;
  "Sns.CallbackBlackListAdd": P.SnsPayload;
  "Sns.CallbackBlackListDelete": P.SnsPayload;
  "Follow.CallbackAfterFollowAdd": P.FollowAddPayload;
  "Follow.CallbackAfterFollowDelete": P.FollowDeletePayload;
  "C2C.CallbackBeforeSendMsg": P.C2CBeforeSendMsgPayload;
  "C2C.CallbackAfterSendMsg": P.C2CAfterSendMsgPayload;
  "C2C.CallbackAfterMsgReport": P.C2CMsgReportPayload;
  "C2C.CallbackAfterMsgWithDraw": P.C2CMsgWithDrawPayload;
  "C2C.CallbackAfterMsgReadReceipt": P.C2CMsgReadReceiptPayload;
  "C2C.CallbackAfterC2CMsgExtension": P.C2CMsgExtensionPayload;
  "C2C.CallbackAfterModifyMsg": P.C2CModifyMsgPayload;
  "C2C.CallbackAfterMsgReadAll": P.C2CMsgReadAllPayload;
  "Group.CallbackBeforeCreateGroup": P.GroupBeforeCreatePayload;
  "Group.CallbackAfterCreateGroup": P.GroupAfterCreatePayload;
  "Group.CallbackBeforeApplyJoinGroup": P.GroupApplyJoinPayload;
  "Group.CallbackBeforeInviteJoinGroup": P.GroupInviteJoinPayload;
  "Group.CallbackAfterNewMemberJoin": P.GroupNewMemberJoinPayload;
  "Group.CallbackAfterMemberExit": P.GroupMemberExitPayload;
  "Group.CallbackBeforeSendMsg": P.GroupBeforeSendMsgPayload;
  "Group.CallbackAfterSendMsg": P.GroupAfterSendMsgPayload;
  "Group.CallbackSendMsgException": P.GroupSendMsgExceptionPayload;
  "Group.CallbackAfterRecallMsg": P.GroupRecallMsgPayload;
  "Group.CallbackAfterGroupFull": P.GroupFullPayload;
  "Group.CallbackAfterGroupDestroyed": P.GroupDestroyedPayload;
  "Group.CallbackAfterGroupInfoChanged": P.GroupInfoChangedPayload;
  "Group.CallbackAfterGroupAttrChanged": P.GroupAttrChangedPayload;
  "Group.CallbackOnMemberStateChange": P.GroupMemberStateChangePayload;
  "Group.CallbackAfterMemberFieldChanged": P.GroupMemberFieldChangedPayload;
  "Group.CallbackAfterChangeGroupOwner": P.GroupOwnerChangedPayload;
  "Group.CallbackAfterReadReceipt": P.GroupReadReceiptPayload;
  "Group.CallbackBeforeCreateTopic": P.GroupBeforeCreateTopicPayload;
  "Group.CallbackAfterCreateTopic": P.GroupAfterCreateTopicPayload;
  "Group.CallbackAfterTopicDestroyed": P.GroupTopicDestroyedPayload;
  "Group.CallbackAfterTopicInfoChanged": P.GroupTopicInfoChangedPayload;
  "Group.CallbackOnDailyGroupQuotaAlarm": P.GroupQuotaAlarmPayload;
  "Group.CallbackAfterGroupMsgExtension": P.GroupMsgExtensionPayload;
  "Group.CallbackAfterModifyMsg": P.GroupModifyMsgPayload;
  "ContentCallback.ResultNotify": P.ModerationResultPayload;
  "Bot.OnC2CMessage": P.C2CAfterSendMsgPayload;
  "Bot.OnGroupMessage": P.BotGroupMessagePayload;
  "Chatbot.OnC2CSignalMessage": P.ChatbotSignalPayload;
  "OfficialAccount.CallbackBeforeCreateOfficialAccount": P.OfficialAccountBeforeCreatePayload;
  "OfficialAccount.CallbackAfterCreateOfficialAccount": P.OfficialAccountCreatedPayload;
  "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": P.OfficialAccountInfoChangedPayload;
  "OfficialAccount.CallbackAfterOfficialAccountDestroyed": P.OfficialAccountCreatedPayload;
  "OfficialAccount.CallbackBeforeAddSubscriber": P.OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackAfterAddSubscriber": P.OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackAfterOfficialAccountFull": P.OfficialAccountPayload;
  "OfficialAccount.CallbackAfterDeleteSubscriber": P.OfficialAccountSubscribersPayload;
  "OfficialAccount.CallbackBeforeSendMsg": P.OfficialAccountBeforeSendMsgPayload;
  "OfficialAccount.CallbackAfterSendMsg": P.OfficialAccountAfterSendMsgPayload;
  "OfficialAccount.CallbackAfterMsgWithDraw": P.OfficialAccountMsgWithDrawPayload;
  "Push.OfflinePush": P.PushPayload;
  "Push.AllMemberPush": P.PushPayload;
  "Call.CallbackAfterStartCall": P.CallStartPayload;
  "Call.CallbackAfterMemberChanged": P.CallMemberChangedPayload;
  "Call.CallbackAfterEndCall": P.CallEndPayload;
  "Desk.SessionEventNotify": P.DeskSessionEventPayload;
  "Live.CallbackAfterCreateRoom": P.LiveRoomCreatedPayload;
  "Live.CallbackAfterMemberStateChanged": P.LiveMemberStateChangedPayload;
}
