//! The merchant's customers' saved cards (issue 23, item 6), through the real handlers against
//! moto: listed without their numbers, forgotten for good, and no other merchant's.

use integration_tests::*;

/// A customer of shop-1 with a saved card (a first payment verified), its phone and card.
async fn customer_with_a_card(stack: &Stack) -> (String, String, String) {
    let (user, phone, card) = (random_id("u"), random_phone(), random_card());
    let p = stack.first_payment(&first_payment_body(&user, &phone, &card)).await;
    let done = stack.verify(p.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    (user, phone, card)
}

#[tokio::test]
async fn a_merchant_lists_its_customers_cards_and_forgets_one_for_good() {
    let stack = Stack::new().await;
    let (user, phone, card) = customer_with_a_card(&stack).await;
    let listed = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let cards = listed.body["data"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{}", listed.body);
    let method = cards[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(cards[0]["last4"].as_str(), Some(&card[card.len() - 4..]));
    assert_eq!((cards[0]["exp_month"].as_u64(), cards[0]["exp_year"].as_u64()), (Some(12), Some(2030)));
    assert!(cards[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(cards[0]["last_used_at"].is_null(), "not used by a repeat payment yet");
    let text = listed.body.to_string();
    assert!(!text.contains(&card) && !text.contains(&phone[3..]), "no number, no phone: {text}");
    // A repeat payment on it records its use.
    let r = stack.repeat_payment(&repeat_payment_body(&user)).await;
    let done = stack.verify(r.body["payment_id"].as_str().unwrap(), &stack.code_sent_to(&phone)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    let listed = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    assert!(listed.body["data"][0]["last_used_at"].as_str().is_some(), "{}", listed.body);

    // Forgotten: gone from the table, and a repeat payment finds no saved card.
    let path = format!("/users/{user}/payment-methods/{method}");
    let gone = stack.delete_as("shop-1", &path).await;
    assert_eq!((gone.status, gone.body["deleted"].as_bool()), (200, Some(true)), "{}", gone.body);
    let items = stack.scan().await;
    let left = items.iter().any(|i| format!("{i:?}").contains(&method) && format!("{i:?}").contains("sealed_card"));
    assert!(!left, "the sealed card is gone");
    let repeat = stack.repeat_payment(&repeat_payment_body(&user)).await;
    assert_eq!(
        (repeat.status, repeat.body["code"].as_str()),
        (404, Some("no_saved_payment_method")),
        "{}",
        repeat.body
    );
    let listed = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0));
    // Deleting twice deletes once.
    let again = stack.delete_as("shop-1", &path).await;
    assert_eq!((again.status, again.body["code"].as_str()), (404, Some("payment_method_not_found")));
}

#[tokio::test]
async fn another_merchant_can_neither_see_nor_forget_a_card() {
    let stack = Stack::new().await;
    let (user, _, _) = customer_with_a_card(&stack).await;
    let mine = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    let method = mine.body["data"][0]["id"].as_str().unwrap().to_owned();
    let theirs = stack.get(&format!("/users/{user}/payment-methods"), Some("shop-2")).await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.body["data"].as_array().map(Vec::len), Some(0), "{}", theirs.body);
    let path = format!("/users/{user}/payment-methods/{method}");
    let refused = stack.delete_as("shop-2", &path).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (404, Some("payment_method_not_found")));
    let still = stack.get(&format!("/users/{user}/payment-methods"), None).await;
    assert_eq!(still.body["data"].as_array().map(Vec::len), Some(1), "the card is still there");
    // Bad ids are refused before anything is read; other methods on the route are not allowed.
    assert_eq!(stack.delete_as("shop-1", &format!("/users/{user}/payment-methods/nope")).await.status, 404);
    let bad_user = stack.delete_as("shop-1", &format!("/users/a%20b/payment-methods/{method}")).await;
    assert!(bad_user.status == 422 || bad_user.status == 404, "{}", bad_user.body);
}
