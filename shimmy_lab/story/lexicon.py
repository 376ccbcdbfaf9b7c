"""Word lists used by the heuristics (titles, given names, nicknames, verbs)."""

from __future__ import annotations

MALE_TITLES = frozenset(
    "Mr Mister Sir Lord Captain Colonel Dr Doctor Father Master Uncle Admiral General "
    "Major Professor Rev Reverend Prince King Count Baron Monsieur Herr Signor "
    "Lieutenant Sergeant Inspector Brother Parson Squire Mr".split()
)
FEMALE_TITLES = frozenset(
    "Mrs Miss Ms Lady Madame Mme Mademoiselle Mlle Dame Aunt Mistress Princess Queen "
    "Duchess Countess Sister Mother Nurse Granny Grandmother".split()
)
TITLES = MALE_TITLES | FEMALE_TITLES
#: titles that are followed by a given name rather than a surname
FIRST_NAME_TITLES = frozenset("Sir Dame Aunt Uncle Brother Sister Master Prince Princess "
                              "King Queen Mother Father".split())

FEMALE_NAMES = frozenset("""
Abigail Ada Adela Adelaide Agnes Alice Amelia Amy Anna Anne Ann Annie Arabella Augusta
Barbara Beatrice Bella Belle Bertha Betsy Betty Bridget Caroline Catherine Cecilia Cecily
Charlotte Clara Clarissa Cora Constance Cynthia Daisy Diana Dinah Dolly Dora Dorothea
Dorothy Edith Eleanor Elinor Eliza Elizabeth Ella Ellen Emily Emma Esther Ethel Eva
Evelyn Fanny Flora Florence Frances Georgiana Gertrude Grace Gwendolen Hannah Harriet
Helen Henrietta Hester Isabel Isabella Jane Janet Jemima Jenny Jessie Joan Josephine Judith
Julia Kate Katherine Kathleen Kitty Laura Lavinia Letitia Lizzy Lizzie Louisa Lucy Lydia
Mabel Madeline Maggie Margaret Maria Marianne Marian Martha Mary Matilda Maud Meg Milly Minnie
Molly Nancy Nell Nelly Olivia Patty Penelope Phoebe Polly Priscilla Rachel Rebecca Rosa
Rosalind Rose Ruth Sally Sarah Sophia Sophy Susan Susanna Sylvia Theresa Ursula Victoria
Violet Wilhelmina Winifred Alice Gretel Cinderella Goldilocks Dora Marjorie Rosamund
Edna Angela Annabel Blanche Celia Delia Elsie Georgina Hilda Ida Irene Juliet Lilian Louise
Maude Millicent Miriam Nellie Nora Pamela Pauline Rhoda Rosamond Sybil Marguerite Yvonne
Mathilde Adeline Alma Beryl Doris Enid Gladys Ivy Mildred Muriel Myrtle Vera Harriette
""".split())
MALE_NAMES = frozenset("""
Aaron Abel Abraham Adam Albert Alexander Alfred Andrew Anthony Arthur Augustus Basil
Benjamin Bernard Bertram Bob Carl Cecil Charles Charley Christopher Clement Daniel David
Dick Edgar Edmund Edward Edwin Ernest Eugene Felix Francis Frank Fred Frederick Gabriel
George Gerald Gilbert Godfrey Gregory Guy Hans Harold Harry Henry Herbert Horace Hugh Isaac
Jack Jacob James Jem Jim Joe John Jonathan Joseph Joshua Julian Lancelot Laurence Lawrence
Leonard Lewis Louis Lucas Luke Mark Martin Matthew Michael Nathaniel Ned Nicholas Noah
Oliver Oscar Patrick Paul Peter Philip Ralph Raymond Reginald Richard Robert Robin Roger
Samuel Simon Stephen Thomas Timothy Tom Tommy Walter William Will Willy Arthur Hansel Jack
Rupert Sebastian Valentine Vincent Wilfred Harold Humphrey Owen Percy Ambrose Nigel Jake
Harvey Howard Jasper Jeremy Jesse Joel Jonas Josiah Julius Malcolm Maurice Morris Nathan
Neville Reuben Ronald Silas Stanley Theodore Tobias Wilfrid Alan Algernon Amos Archibald
Arnold Barnaby Bartholomew Cedric Clarence Cornelius Cyril Cuthbert Dennis Donald Douglas
Duncan Eli Elijah Emmanuel Enoch Eustace Ezra Ferdinand Geoffrey Hector Ivan Ted Teddy Bill
Sam Mike Pedro Juan Carlos Pierre Jacques Karl Leopold Rudolph Otto Ignatius Lionel Marcus
""".split())

NICKNAMES: dict[str, tuple[str, ...]] = {
    "Lizzy": ("Elizabeth",), "Lizzie": ("Elizabeth",), "Eliza": ("Elizabeth",),
    "Liz": ("Elizabeth",), "Bess": ("Elizabeth",), "Bessy": ("Elizabeth",),
    "Betsy": ("Elizabeth",), "Betty": ("Elizabeth",), "Libby": ("Elizabeth",),
    "Kitty": ("Catherine", "Katherine"), "Kate": ("Catherine", "Katherine"),
    "Katie": ("Catherine", "Katherine"), "Fanny": ("Frances",),
    "Nancy": ("Anne", "Ann", "Anna"), "Annie": ("Anne", "Ann", "Anna"),
    "Molly": ("Mary",), "Polly": ("Mary",), "Mamie": ("Mary",),
    "Peggy": ("Margaret",), "Meg": ("Margaret",), "Maggie": ("Margaret",),
    "Sally": ("Sarah",), "Patty": ("Martha", "Matilda"), "Matty": ("Martha", "Matilda"),
    "Harry": ("Henry",), "Hal": ("Henry",), "Jack": ("John",), "Johnny": ("John",),
    "Ned": ("Edward", "Edmund"), "Ted": ("Edward",), "Teddy": ("Edward", "Theodore"),
    "Bob": ("Robert",), "Bobby": ("Robert",), "Rob": ("Robert",),
    "Bill": ("William",), "Billy": ("William",), "Will": ("William",),
    "Willy": ("William",), "Dick": ("Richard",), "Tom": ("Thomas",), "Tommy": ("Thomas",),
    "Jim": ("James",), "Jimmy": ("James",), "Jem": ("James",), "Charley": ("Charles",),
    "Charlie": ("Charles",), "Fred": ("Frederick",), "Freddy": ("Frederick",),
    "Sam": ("Samuel",), "Jake": ("Jacob",), "Ben": ("Benjamin",), "Joe": ("Joseph",), "Nick": ("Nicholas",),
    "Dolly": ("Dorothy",), "Nell": ("Eleanor", "Ellen", "Helen"),
    "Nelly": ("Eleanor", "Ellen", "Helen"), "Becky": ("Rebecca",), "Sukey": ("Susan",),
    "Emmy": ("Emma",), "Jenny": ("Jane",), "Sophy": ("Sophia",), "Di": ("Diana",),
    # more standard English diminutives (written from common knowledge, no list copied)
    "Loo": ("Louisa", "Louise"), "Lou": ("Louisa", "Louise"), "Sissy": ("Cecilia", "Cecily"),
    "Cissy": ("Cecilia", "Cecily"), "Nolly": ("Oliver",), "Noll": ("Oliver",),
    "Nance": ("Nancy", "Anne", "Ann", "Anna"), "Mike": ("Michael",), "Mick": ("Michael",),
    "Mickey": ("Michael",), "Tony": ("Anthony",),
    "Andy": ("Andrew",), "Sandy": ("Alexander",), "Alec": ("Alexander",), "Phil": ("Philip",),
    "Pip": ("Philip",), "Walt": ("Walter",), "Wat": ("Walter",), "Steve": ("Stephen",),
    "Dan": ("Daniel",), "Danny": ("Daniel",), "Davy": ("David",), "Matt": ("Matthew",),
    "Nat": ("Nathaniel",), "Gus": ("Augustus",), "Bertie": ("Albert", "Herbert", "Bertram"),
    "Georgie": ("George", "Georgiana"), "Flo": ("Florence",), "Florrie": ("Florence",),
    "Gussie": ("Augusta",), "Josie": ("Josephine",), "Lottie": ("Charlotte",),
    "Totty": ("Charlotte",), "Lucie": ("Lucy",), "Bella": ("Isabella", "Arabella"),
    "Tilly": ("Matilda",), "Hetty": ("Henrietta", "Hester"),
    "Netta": ("Henrietta",), "Jinny": ("Jane", "Virginia"), "Ginny": ("Virginia",),
    "Winnie": ("Winifred",), "Addie": ("Adelaide",), "Milly": ("Mildred", "Millicent", "Amelia"),
}

#: titles that are the same title in another form or language ("Dr"/"Doctor", "Mlle"/"Miss")
SAME_TITLE: dict[str, str] = {
    "Mister": "Mr", "Monsieur": "Mr", "Herr": "Mr", "Signor": "Mr", "Doctor": "Dr",
    "Reverend": "Rev", "Madame": "Mrs", "Mme": "Mrs", "Mademoiselle": "Miss", "Mlle": "Miss",
}
#: titles of a calling whose holder is "Mr" as well ("Mr Elton" is "the Rev Philip Elton",
#: "Mr Losberne" is "Doctor Losberne"); military ranks are left out ("Captain Wentworth"
#: and his brother "Mr Wentworth")
ALSO_MR = frozenset("Dr Doctor Rev Reverend Inspector Professor Parson".split())

#: capitalised words that are never names (sentence openers, days, months, nations...)
NOT_NAMES = frozenset("""
A An The This That These Those There Then Than Thus Though Through Thou Thee Thy Ye
I Me My Mine We Us Our You Your He Him His She Her Hers It Its They Them Their
And But Or Nor For Yet So If As At By In Of On To Up Upon With Without Within Into From
Oh O Ah Alas Aye Ay Yes No Nay Not Well Why What When Where Which Who Whom Whose How
Now Here Some Any All Every Each Both Either Neither None Nothing Something Everything
One Two Three Four Five Six Seven Eight Nine Ten First Second Third Last Next Another
Do Does Did Is Are Was Were Be Been Being Have Has Had Can Could Shall Should Will
Would May Might Must Let Pray Perhaps Indeed Certainly Surely Very Quite Only Just
After Before Again Always Never Often Still Even Ever Soon Such Much Many More Most
Mr Mrs Miss Ms Sir Lady Lord Dr St Madam Madame Monsieur Master Mistress
Monday Tuesday Wednesday Thursday Friday Saturday Sunday
January February March April May June July August September October November December
Christmas Easter Michaelmas Heaven Hell God Lord Christ Providence Bible Church
English French Italian Irish Scotch Scottish German Spanish Dutch Russian American
England France Italy Ireland Scotland Germany Spain London Paris Europe
CHAPTER Chapter Volume VOLUME Book BOOK Part PART Finis End THE
Good Poor Old Dear Dearest Pray Hush Hark Look See Come Go Tell Say Do Don Dont
Besides However Whatever Whenever Wherever Meanwhile Otherwise Therefore Nevertheless
Sometimes Once Twice Upon Until Unless While Whilst Since Because Although Whether
Ha Hm Hum Eh Bah Pooh Pshaw Ho Hallo Hello Goodbye Sure Right Wrong True False
Hullo Halloa Hurrah Hurray Bravo Gracious Goodness Heavens Aha Oho Tut Whew Hey Hi Ahoy
""".split())

#: last words that make a capitalised phrase a place
PLACE_WORDS = frozenset("""
Hall Park Street Abbey Lodge House Place Square Court Castle Church Road Lane Hill
Farm Mill Cottage Buildings Crescent Row Terrace Gardens Garden Green Common Bridge
Wood Woods Forest River Lake Sea Island Town City Inn Arms Rooms Chapel Cathedral
College School Station Gate Gates Manor Vicarage Rectory Parsonage Priory Grange
Cross Heath Mount Valley Bay Harbour Road Avenue Tower Palace Hotel Club Office
""".split())

SPEECH_VERBS = (
    "said|says|cried|cries|replied|replies|answered|asked|asks|exclaimed|continued|"
    "added|returned|observed|whispered|shouted|muttered|murmured|began|rejoined|"
    "remarked|repeated|resumed|thought|called|inquired|enquired|interrupted|explained|"
    "declared|insisted|protested|persisted|pursued|laughed|sighed|urged|pleaded|"
    "retorted|responded|demanded|suggested|agreed|admitted|concluded|stammered|"
    "screamed|roared|growled|sobbed|gasped|faltered|ventured|proceeded|interposed|"
    "yelled|snapped|wailed|moaned|groaned|grumbled|shrieked|went on|put in|broke in|"
    "struck in|corrected|assented|objected|added|warned|announced|whined|hissed|"
    "breathed|chuckled|smiled|answered|echoed|panted|bawled|squeaked|sang|read|"
    "snarled|sneered|grunted|drawled|mumbled|lisped|jeered|blurted|stuttered|piped|"
    "ejaculated|remonstrated|thundered|whimpered|acquiesced|blustered|reiterated|howled|"
    "snorted|trumpeted|begged|crooned|simpered|rapped|commanded|asserted|droned|enunciated|"
    "quavered|blubbered|reasoned|croaked|entreated|tittered|quoth|spluttered|conceded|"
    "cautioned|confessed|mused|scoffed|giggled|chirped|barked|boomed|bellowed|hazarded|"
    "interjected|queried|lamented|implored|besought|vowed|babbled|volunteered|wheezed|"
    "squealed|sniffed|sniggered|ordered|promised|chimed in|cut in"
)
#: non-speech verbs that still mark a capitalised word as a person
PERSON_VERBS = (
    "smiled|laughed|felt|thought|looked|nodded|sighed|wondered|knew|hoped|wished|"
    "turned|stood|sat|walked|came|went|took|gave|saw|heard|seemed|began|married|"
    "loved|wrote|died|rose|ran|shook|paused|stopped|listened|answered|blushed|"
    "exclaimed|hesitated|laughed|smiled|trembled|cried"
)
RELATION_NOUNS = (
    "wife|husband|father|mother|sister|brother|daughter|son|friend|companion|aunt|"
    "uncle|cousin|niece|nephew|master|mistress|servant|maid|lover|guest|lady"
)

#: head nouns of descriptions that tell a speaker's sex ("the old man", "the landlady")
MALE_NOUNS = frozenset("""
man men gentleman boy fellow lad youth husband father son brother uncle nephew king prince
lord duke count earl baron marquis sir master landlord waiter butler footman coachman
policeman priest monk gentlemen chap
""".split())
FEMALE_NOUNS = frozenset("""
woman women lady girl wife mother daughter sister aunt niece queen princess duchess countess
maid housemaid landlady widow mistress nurse governess chambermaid housekeeper dame lass
""".split())


def noun_gender(desc: str) -> str | None:
    """The sex the head noun of a description tells ("the old man", "the landlady", "the
    cabman", "the hostess"), or None ("the stranger", "the witness")."""
    head = desc.split()[-1].lower() if desc.split() else ""
    if head in MALE_NOUNS or (head.endswith(("man", "men")) and not head.endswith(("woman", "women"))):
        return "male"
    if head in FEMALE_NOUNS or head.endswith(("woman", "women")) or (head.endswith("ess") and head != "witness"):
        return "female"
    return None


#: descriptions that stand for a character already in the scene, as "he" and "she" do
MALE_PERSON_NOUNS = frozenset("man gentleman boy fellow lad youth chap".split())
FEMALE_PERSON_NOUNS = frozenset("woman lady girl lass".split())

#: nouns of people by what they are or do ("the porter", "a stranger", "the man"): heads of
#: the descriptions narration introduces a speaker with ("the porter stopped me to brush off
#: my coat", "a small, dark, brisk man ... accosted us")
ROLE_NOUNS = frozenset("""
stranger visitor guest servant porter waiter driver cabman coachman footman butler groom
clerk officer policeman constable sergeant inspector detective soldier sailor captain doctor
surgeon nurse landlord landlady innkeeper barman barmaid shopkeeper keeper jailer turnkey
magistrate judge lawyer attorney priest clergyman curate vicar parson chaplain monk nun
farmer labourer laborer workman gardener shepherd fisherman boatman ferryman beggar pedlar
peddler hawker tramp thief robber burglar prisoner guard sentry watchman conductor
messenger boy girl child youth lad lass man woman gentleman lady fellow person creature
figure individual passenger traveller traveler newcomer host hostess proprietor owner
attendant valet maid housekeeper cook governess tutor teacher master mistress student
pupil scholar professor secretary chairman president speaker orator chauffeur
postman postmistress carrier carter waggoner blacksmith smith baker butcher grocer tailor
barber hatter shoemaker cobbler sexton undertaker beadle matron warden warder
""".split())
