"""Small hand-written stories shared by the narrative tracker tests."""

STORY = """CHAPTER I

Kitty Bell had blue eyes and a quick temper. Kitty was seventeen years old. She lived with her
brother Tom at the mill by the river, and the mill was failing. There was a secret in the old
mill, but nobody would speak of it.

"I must find the money before winter," said Tom. "We cannot lose the mill."

"Then we shall find it together, Tom," said Kitty. "Don't you worry about the mill."

"You're always so sure of yourself," Tom replied. "I wish I could be."

CHAPTER II

Tom went down to the village in the rain. He asked the baker about the old mill and the secret,
but the baker only shook his head. The money was not to be found anywhere in the village.

"I don't know anything about the mill," said the baker. "Ask old Mr Grey."

Mr Grey was a miller once, and he knew every stone of the old mill by the river.

"The money is under the millstone," said Mr Grey. "It always was, Tom."

CHAPTER III

That winter Tom died of a fever, and Kitty wept for many days. Mr Grey helped her to bury him.

"I shall keep the mill for him," said Kitty. "I must."

She went to the old mill by the river and lifted the millstone, and there was the money, as Mr
Grey had said. The secret of the mill was out at last.

Kitty's eyes were green in the lamplight as she counted the coins.

"Well done, sister," said Tom, and he sat down beside her.
"""
